// Modules: loading from an image or a bundle, kernels and their signatures,
// and malformed images and bundles.
#include <string>
#include <vector>

#include "tests/conformance/fixture.h"

namespace accel::conformance {
namespace {

class ModuleTest : public ConformanceTest {
 protected:
  // The bundle's image that this device runs, loaded raw.
  const hal::ModuleBundle::Image* RunnableImage() {
    for (const hal::ModuleBundle::Image& image : bundle_.images()) {
      if (device_.LoadModule(image.format, image.bytes).ok()) return &image;
    }
    return nullptr;
  }
};

TEST_P(ModuleTest, BundleHasTheKernelSet) {
  for (const char* name : {"fill", "vector_add", "saxpy", "sgemm", "reduce_sum"}) {
    EXPECT_EQ(bundle_.kernels().count(name), 1u) << name;
  }
  EXPECT_FALSE(bundle_.images().empty());
}

TEST_P(ModuleTest, LoadFromBundleGivesKernelsWithSignatures) {
  ASSERT_OK_AND_ASSIGN(hal::Kernel saxpy, module_.GetKernel("saxpy"));
  EXPECT_EQ(saxpy.name(), "saxpy");
  ASSERT_TRUE(saxpy.signature().has_value());
  EXPECT_EQ(hal::FormatSignature(*saxpy.signature()), "buffer,buffer,f32,u32");
  EXPECT_EQ(saxpy.device(), device_);
  EXPECT_EQ(module_.device(), device_);
}

TEST_P(ModuleTest, LoadFromRawImage) {
  const hal::ModuleBundle::Image* image = RunnableImage();
  ASSERT_NE(image, nullptr);
  ASSERT_OK_AND_ASSIGN(hal::Module m, device_.LoadModule(image->format, image->bytes));
  EXPECT_EQ(m.format(), image->format);
  ASSERT_OK_AND_ASSIGN(hal::Kernel fill, m.GetKernel("fill"));
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(64));
  ASSERT_OK_AND_ASSIGN(hal::Stream s, device_.CreateStream());
  ASSERT_OK(s.Launch(fill, {{1, 1, 1}, {16, 1, 1}, 0}, {b, 5.0f, uint32_t{16}}));
  ASSERT_OK(s.Synchronize());
}

// Where the driver tells a kernel's parameter layout, it agrees with the
// kernel's signature: one parameter per argument, each of its kind's size,
// in order and apart. Elsewhere the backend says it cannot tell.
TEST_P(ModuleTest, AKernelsParametersAreItsSignaturesLaidOut) {
  ASSERT_OK_AND_ASSIGN(hal::Kernel saxpy, module_.GetKernel("saxpy"));
  absl::StatusOr<std::vector<hal::KernelParameter>> params = saxpy.Parameters();
  if (absl::IsUnimplemented(params.status())) {
    GTEST_SKIP() << GetParam() << ": " << params.status().message();
  }
  ASSERT_OK(params.status());
  // buffer, buffer, f32, u32
  const std::vector<uint64_t> sizes = {8, 8, 4, 4};
  ASSERT_EQ(params->size(), sizes.size());
  uint64_t end = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ((*params)[i].size, sizes[i]) << "parameter " << i;
    EXPECT_GE((*params)[i].offset, end) << "parameter " << i;
    end = (*params)[i].offset + (*params)[i].size;
  }
  EXPECT_STATUS(hal::Kernel().Parameters(), kInvalidArgument);
}

TEST_P(ModuleTest, MissingKernelIsNotFound) {
  absl::StatusOr<hal::Kernel> k = module_.GetKernel("no_such_kernel");
  EXPECT_STATUS(k, kNotFound);
  EXPECT_STATUS(module_.GetKernel(""), kNotFound);
  EXPECT_STATUS(hal::Module().GetKernel("fill"), kInvalidArgument);
}

TEST_P(ModuleTest, UnknownFormatIsInvalid) {
  EXPECT_STATUS(device_.LoadModule(static_cast<hal::ImageFormat>(99), "x"), kInvalidArgument);
  EXPECT_STATUS(hal::ParseImageFormat("elf"), kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(hal::ImageFormat ptx, hal::ParseImageFormat("ptx"));
  EXPECT_EQ(hal::ImageFormatName(ptx), "ptx");
}

TEST_P(ModuleTest, FormatTheDeviceCannotRunIsInvalid) {
  int rejected = 0;
  for (hal::ImageFormat f :
       {hal::ImageFormat::kHostElf, hal::ImageFormat::kPtx, hal::ImageFormat::kCubin,
        hal::ImageFormat::kFatbin, hal::ImageFormat::kHsaco, hal::ImageFormat::kSpirv}) {
    bool runnable = false;
    for (const hal::ModuleBundle::Image& i : bundle_.images()) runnable |= i.format == f;
    if (runnable) continue;
    absl::StatusOr<hal::Module> m = device_.LoadModule(f, "not an image");
    EXPECT_STATUS(m, kInvalidArgument);
    ++rejected;
  }
  EXPECT_GT(rejected, 0);
}

TEST_P(ModuleTest, GarbageImagesAreInvalid) {
  const hal::ModuleBundle::Image* image = RunnableImage();
  ASSERT_NE(image, nullptr);
  EXPECT_STATUS(device_.LoadModule(image->format, ""), kInvalidArgument);
  EXPECT_STATUS(device_.LoadModule(image->format, std::string(4096, '\x7f')), kInvalidArgument);
  // A truncated real image.
  EXPECT_STATUS(device_.LoadModule(image->format, image->bytes.substr(0, image->bytes.size() / 3)),
                kInvalidArgument);
  // The device keeps working.
  EXPECT_OK(device_.LoadModule(bundle_));
}

TEST_P(ModuleTest, BundleRoundTrips) {
  ASSERT_OK_AND_ASSIGN(hal::ModuleBundle copy, hal::ModuleBundle::Parse(bundle_.Serialize()));
  ASSERT_EQ(copy.images().size(), bundle_.images().size());
  EXPECT_EQ(copy.kernels(), bundle_.kernels());
  for (size_t i = 0; i < copy.images().size(); ++i) {
    EXPECT_EQ(copy.images()[i].format, bundle_.images()[i].format);
    EXPECT_EQ(copy.images()[i].arch, bundle_.images()[i].arch);
    EXPECT_EQ(copy.images()[i].bytes, bundle_.images()[i].bytes);
  }
}

TEST_P(ModuleTest, EveryTruncationOfABundleIsRejectedCleanly) {
  hal::ModuleBundle small;
  small.AddImage(hal::ImageFormat::kSpirv, "", "0123456789");
  ASSERT_OK(small.AddKernel("k", "buffer,u32"));
  std::string bytes = small.Serialize();
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_STATUS(hal::ModuleBundle::Parse(bytes.substr(0, n)), kInvalidArgument) << n;
  }
  EXPECT_STATUS(hal::ModuleBundle::Parse(bytes + "x"), kInvalidArgument);
  std::string bad_magic = bytes;
  bad_magic[0] = 'X';
  EXPECT_STATUS(hal::ModuleBundle::Parse(bad_magic), kInvalidArgument);
  // A huge declared image size must not allocate or read out of bounds.
  std::string huge = bytes;
  huge[huge.size() - 10 - 8 + 7] = '\x7f';
  EXPECT_STATUS(hal::ModuleBundle::Parse(huge), kInvalidArgument);
  EXPECT_STATUS(hal::ModuleBundle::ReadFile("/nonexistent/bundle"), kNotFound);
}

TEST_P(ModuleTest, ImageScoresPickTheBundlesRunnableImage) {
  int runnable = 0;
  for (const hal::ModuleBundle::Image& image : bundle_.images()) {
    const int32_t score = device_.ImageScore(image.format, image.arch);
    // A runnable image loads; one scored below zero is refused.
    EXPECT_EQ(score >= 0, device_.LoadModule(image.format, image.bytes).ok())
        << hal::ImageFormatName(image.format) << "/" << image.arch;
    runnable += score >= 0;
  }
  EXPECT_GT(runnable, 0);
  EXPECT_LT(device_.ImageScore(static_cast<hal::ImageFormat>(99), ""), 0);
  EXPECT_LT(hal::Device().ImageScore(hal::ImageFormat::kPtx, ""), 0);
}

TEST_P(ModuleTest, BundleWithoutARunnableImageIsNotFound) {
  hal::ModuleBundle none;
  none.AddImage(hal::ImageFormat::kHostElf, "no-such-arch", "x");
  EXPECT_FALSE(device_.CanRun(none));
  EXPECT_STATUS(device_.LoadModule(none), kNotFound);
  EXPECT_STATUS(device_.LoadModule(hal::ModuleBundle()), kNotFound);
}

TEST_P(ModuleTest, MalformedSignaturesAreRejected) {
  hal::ModuleBundle b;
  EXPECT_STATUS(b.AddKernel("k", "buffer,float"), kInvalidArgument);
  EXPECT_STATUS(b.AddKernel("", "u32"), kInvalidArgument);
  EXPECT_OK(b.AddKernel("k", ""));
  EXPECT_OK(b.AddKernel("k2", " buffer , u32 "));
}

TEST_P(ModuleTest, KernelKeepsItsModuleAlive) {
  hal::Kernel fill;
  {
    ASSERT_OK_AND_ASSIGN(hal::Module m, device_.LoadModule(bundle_));
    ASSERT_OK_AND_ASSIGN(fill, m.GetKernel("fill"));
  }
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(64));
  ASSERT_OK_AND_ASSIGN(hal::Stream s, device_.CreateStream());
  ASSERT_OK(s.Launch(fill, {{1, 1, 1}, {16, 1, 1}, 0}, {b, 5.0f, uint32_t{16}}));
  EXPECT_OK(s.Synchronize());
}

TEST_P(ModuleTest, LoadingTheSameModuleTwiceGivesIndependentModules) {
  ASSERT_OK_AND_ASSIGN(hal::Module a, device_.LoadModule(bundle_));
  ASSERT_OK_AND_ASSIGN(hal::Module b, device_.LoadModule(bundle_));
  ASSERT_OK_AND_ASSIGN(hal::Kernel ka, a.GetKernel("empty"));
  a = hal::Module();  // unload one; the other is unaffected
  ASSERT_OK_AND_ASSIGN(hal::Kernel kb, b.GetKernel("empty"));
  ASSERT_OK_AND_ASSIGN(hal::Stream s, device_.CreateStream());
  EXPECT_OK(s.Launch(kb, {{1, 1, 1}, {1, 1, 1}, 0}, {}));
  EXPECT_OK(s.Launch(ka, {{1, 1, 1}, {1, 1, 1}, 0}, {}));
  EXPECT_OK(s.Synchronize());
}

TEST_P(ModuleTest, AGlobalIsABufferOverTheModulesOwnMemory) {
  hal::Buffer global;
  hal::Kernel affine;
  {
    ASSERT_OK_AND_ASSIGN(hal::Module m, device_.LoadModule(bundle_));
    absl::StatusOr<hal::Buffer> found = m.GetGlobal("accel_global_table");
    if (absl::IsUnimplemented(found.status())) {
      GTEST_SKIP() << GetParam() << ": " << found.status().message();
    }
    ASSERT_OK(found.status());
    global = *found;
    ASSERT_OK_AND_ASSIGN(affine, m.GetKernel("affine_u32"));
    EXPECT_STATUS(m.GetGlobal("no_such_global"), kNotFound);
    EXPECT_STATUS(m.GetGlobal("affine_u32"), kNotFound);  // a kernel is no global
  }                                                       // the buffer keeps the module loaded
  ASSERT_EQ(global.size(), 4 * sizeof(uint32_t));
  std::vector<uint32_t> values(4);
  ASSERT_OK(device_.CopyToHost(global, hal::AsWritableBytes(absl::MakeSpan(values))));
  EXPECT_EQ(values, (std::vector<uint32_t>{1, 2, 3, 4}));  // the image's initial values
  // Kernels see the global as launch arguments see any buffer.
  ASSERT_OK_AND_ASSIGN(hal::Stream s, device_.CreateStream());
  ASSERT_OK(s.Launch(affine, {{1, 1, 1}, {4, 1, 1}, 0}, {global, 10u, 1u, 4u}));
  ASSERT_OK(s.Synchronize());
  ASSERT_OK(device_.CopyToHost(global, hal::AsWritableBytes(absl::MakeSpan(values))));
  EXPECT_EQ(values, (std::vector<uint32_t>{11, 21, 31, 41}));
  // Another load of the image has a global of its own.
  ASSERT_OK_AND_ASSIGN(hal::Module other, device_.LoadModule(bundle_));
  ASSERT_OK_AND_ASSIGN(hal::Buffer other_global, other.GetGlobal("accel_global_table"));
  ASSERT_OK(device_.CopyToHost(other_global, hal::AsWritableBytes(absl::MakeSpan(values))));
  EXPECT_EQ(values, (std::vector<uint32_t>{1, 2, 3, 4}));
  // Its memory is the module's: a global is no allocation of the device.
  ASSERT_OK_AND_ASSIGN(hal::MemoryInfo before, device_.GetMemoryInfo());
  ASSERT_OK(other_global.Free());
  EXPECT_STATUS(device_.CopyToHost(other_global, hal::AsWritableBytes(absl::MakeSpan(values))),
                kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(hal::MemoryInfo after, device_.GetMemoryInfo());
  EXPECT_LE(after.free_bytes, before.free_bytes + before.free_bytes / 100);
  ASSERT_OK_AND_ASSIGN(other_global, other.GetGlobal("accel_global_table"));  // still there
  EXPECT_EQ(other_global.size(), 4 * sizeof(uint32_t));
}

ACCEL_CONFORMANCE_SUITE(ModuleTest);

}  // namespace
}  // namespace accel::conformance
