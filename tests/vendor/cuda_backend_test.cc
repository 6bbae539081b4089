// The cuda backend on hosts without an NVIDIA GPU: each way of having no
// device gives its own, exact reason, and the backend still loads.
//
// The driver is the stand-in libcuda of fake_cuda_driver.cc, whose cuInit
// result the test chooses and which has no devices, or one that the backend
// opens, describes and runs on. With the toolkit's stub libcuda.so (where
// installed) the "init failed" path is also tested against NVIDIA's own
// library.

#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "accel/hal/device_address.h"
#include "accel/hal/hal.h"
#include "accel/hal/registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/status_matchers.h"
#include "tests/vendor/fake_cuda_attributes.h"

namespace accel::hal {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The cuda backend's unavailable reason with ACCEL_CUDA_LIBRARY = `library`
// (and the fake's cuInit answering `init_result`), from a fresh registry.
std::string ReasonWith(const std::string& library, const char* init_result = "0") {
  setenv("ACCEL_CUDA_LIBRARY", library.c_str(), 1);
  setenv("ACCEL_FAKE_CUDA_INIT_RESULT", init_result, 1);
  RegistryOptions options;
  options.search_path = {ACCEL_TEST_BACKEND_DIR};
  options.only = {"cuda"};
  absl::StatusOr<std::unique_ptr<Registry>> registry = Registry::Create(options);
  unsetenv("ACCEL_CUDA_LIBRARY");
  unsetenv("ACCEL_FAKE_CUDA_INIT_RESULT");
  EXPECT_TRUE(registry.ok()) << registry.status();
  if (!registry.ok()) return "<no registry>";
  absl::StatusOr<Backend> backend = (*registry)->GetBackend("cuda");
  EXPECT_TRUE(backend.ok()) << backend.status();
  if (!backend.ok()) return "<no backend>";
  EXPECT_FALSE(backend->available());
  EXPECT_TRUE(backend->devices().empty());
  EXPECT_EQ(backend->abi_version().substr(0, 2), "1.");
  return backend->unavailable_reason();
}

TEST(CudaBackendTest, MissingLibraryIsNoDriver) {
  const std::string path = "/nonexistent/accelpool-test/libcuda.so.1";
  std::string reason = ReasonWith(path);
  EXPECT_THAT(reason, StartsWith("no driver: cannot load " + path + " ("));
  EXPECT_THAT(reason, HasSubstr("cannot open shared object file"));
  EXPECT_THAT(reason, EndsWith(")"));
}

TEST(CudaBackendTest, LibraryWithoutTheDriverApiIsUnsupported) {
  EXPECT_EQ(ReasonWith("libm.so.6"), "unsupported driver: libm.so.6 does not export cuInit");
}

TEST(CudaBackendTest, FailingCuInitIsInitFailedWithTheVendorError) {
  // The fake answers neither cuGetErrorName nor cuGetErrorString, so the
  // backend's own table names the error.
  EXPECT_EQ(ReasonWith(ACCEL_TEST_FAKE_CUDA_DRIVER, "999"),
            "init failed: cuInit returned CUDA_ERROR_UNKNOWN (999): unknown error");
  EXPECT_EQ(ReasonWith(ACCEL_TEST_FAKE_CUDA_DRIVER, "46"),
            "init failed: cuInit returned CUDA_ERROR_DEVICE_UNAVAILABLE (46): device busy or "
            "unavailable (compute mode)");
}

TEST(CudaBackendTest, NvidiaStubLibraryIsInitFailed) {
  const std::string stub = ACCEL_TEST_CUDA_STUB_LIBRARY;
  if (stub.empty()) GTEST_SKIP() << "the CUDA toolkit's stub libcuda.so is not installed";
  std::string reason = ReasonWith(stub);
  EXPECT_THAT(reason, StartsWith("init failed: cuInit returned CUDA_ERROR_STUB_LIBRARY (34): "));
  EXPECT_GT(reason.size(),
            std::string("init failed: cuInit returned CUDA_ERROR_STUB_LIBRARY (34): ").size());
}

TEST(CudaBackendTest, DriverWithoutDevicesSaysSo) {
  // cuInit reporting no device, and cuInit succeeding with a count of 0.
  EXPECT_EQ(ReasonWith(ACCEL_TEST_FAKE_CUDA_DRIVER, "100"), "driver present but no device");
  EXPECT_EQ(ReasonWith(ACCEL_TEST_FAKE_CUDA_DRIVER, "0"), "driver present but no device");
}

TEST(CudaBackendTest, ReasonsAreDistinct) {
  std::set<std::string> kinds;
  for (const std::string& reason :
       {ReasonWith("/nonexistent/libcuda.so.1"), ReasonWith("libm.so.6"),
        ReasonWith(ACCEL_TEST_FAKE_CUDA_DRIVER, "999"), ReasonWith(ACCEL_TEST_FAKE_CUDA_DRIVER)}) {
    kinds.insert(reason.substr(0, reason.find(':')));
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"no driver", "unsupported driver", "init failed",
                                          "driver present but no device"}));
}

// A registry whose cuda backend has the fake's one device.
absl::StatusOr<std::unique_ptr<Registry>> FakeDeviceRegistry() {
  setenv("ACCEL_CUDA_LIBRARY", ACCEL_TEST_FAKE_CUDA_DRIVER, 1);
  setenv("ACCEL_FAKE_CUDA_INIT_RESULT", "0", 1);
  setenv("ACCEL_FAKE_CUDA_DEVICES", "1", 1);
  RegistryOptions options;
  options.search_path = {ACCEL_TEST_BACKEND_DIR};
  options.only = {"cuda"};
  absl::StatusOr<std::unique_ptr<Registry>> registry = Registry::Create(options);
  unsetenv("ACCEL_CUDA_LIBRARY");
  unsetenv("ACCEL_FAKE_CUDA_INIT_RESULT");
  unsetenv("ACCEL_FAKE_CUDA_DEVICES");
  return registry;
}

TEST(CudaBackendTest, ADeviceCarriesEveryAttributeItsDriverAnswers) {
  absl::StatusOr<std::unique_ptr<Registry>> registry = FakeDeviceRegistry();
  ASSERT_OK(registry.status());
  ASSERT_OK_AND_ASSIGN(Backend backend, (*registry)->GetBackend("cuda"));
  ASSERT_TRUE(backend.available()) << backend.unavailable_reason();
  ASSERT_EQ(backend.devices().size(), 1u);
  const DeviceProperties& p = backend.devices()[0].properties();
  EXPECT_EQ(p.name, "Fake CUDA Device");
  EXPECT_EQ(p.arch, "sm_90");
  EXPECT_EQ(p.compute_units, 132u);
  // Every number the driver answers, with its value; none it refuses.
  std::map<int32_t, int64_t> answered;
  for (int attribute = 1; attribute <= 511; ++attribute) {
    if (FakeAttribute(attribute) >= 0) answered[attribute] = FakeAttribute(attribute);
  }
  EXPECT_EQ(p.native_attributes, answered);
  EXPECT_EQ(p.native_attributes.count(kFakeUnansweredAttribute), 0u);
}

// What a library presenting CUDA to unmodified programs asks of a kernel
// and a module: the driver's parameter layout (cuFuncGetParamInfo) and a
// __device__ variable's memory (cuModuleGetGlobal), at the driver's address.
TEST(CudaBackendTest, AKernelTellsItsDriversLayoutAndAGlobalIsTheModulesMemory) {
  absl::StatusOr<std::unique_ptr<Registry>> registry = FakeDeviceRegistry();
  ASSERT_OK(registry.status());
  ASSERT_OK_AND_ASSIGN(Device device, (*registry)->GetDevice("cuda:0"));
  // The stand-in driver takes any image and knows its kernels by name.
  ASSERT_OK_AND_ASSIGN(Module module, device.LoadModule(ImageFormat::kPtx, ".version 8.0\n"));
  ASSERT_OK_AND_ASSIGN(Kernel scale, module.GetKernel("_Z5scalePffi"));
  ASSERT_OK_AND_ASSIGN(std::vector<KernelParameter> scale_params, scale.Parameters());
  EXPECT_EQ(scale_params, (std::vector<KernelParameter>{{0, 8}, {8, 4}, {12, 4}}));
  ASSERT_OK_AND_ASSIGN(Kernel fill, module.GetKernel("_Z4fill4Spanf"));
  ASSERT_OK_AND_ASSIGN(std::vector<KernelParameter> fill_params, fill.Parameters());
  EXPECT_EQ(fill_params, (std::vector<KernelParameter>{{0, 16}, {16, 4}}));

  ASSERT_OK_AND_ASSIGN(Buffer table, module.GetGlobal("table"));
  EXPECT_EQ(table.size(), 1000 * sizeof(uint32_t));
  EXPECT_STATUS(module.GetGlobal("no_such_global"), kNotFound);
  ASSERT_OK_AND_ASSIGN(Stream stream, device.CreateStream());
  const std::vector<uint32_t> written = {7, 8, 9};
  std::vector<uint32_t> read(3);
  ASSERT_OK_AND_ASSIGN(BufferView head, table.View(4, 12));
  ASSERT_OK(stream.CopyToDevice(AsBytes(absl::MakeConstSpan(written)), head));
  ASSERT_OK(stream.CopyToHost(head, AsWritableBytes(absl::MakeSpan(read))));
  ASSERT_OK(stream.Synchronize());
  EXPECT_EQ(read, written);
  // Its address is the module's own: the memory is not an allocation.
  ASSERT_OK_AND_ASSIGN(uint64_t address, DeviceAddressOf(table));
  EXPECT_NE(address, 0u);
}

// A kernel's questions go to its driver (cuFuncGetAttribute, cuOccupancy*):
// the stand-in's answers come back as they are, and a question no driver
// could take is refused before it reaches one.
TEST(CudaBackendTest, AKernelsAttributesAndOccupancyAreItsDriversAnswers) {
  absl::StatusOr<std::unique_ptr<Registry>> registry = FakeDeviceRegistry();
  ASSERT_OK(registry.status());
  ASSERT_OK_AND_ASSIGN(Device device, (*registry)->GetDevice("cuda:0"));
  ASSERT_OK_AND_ASSIGN(Module module, device.LoadModule(ImageFormat::kPtx, ".version 8.0\n"));
  ASSERT_OK_AND_ASSIGN(Kernel scale, module.GetKernel("_Z5scalePffi"));
  KernelQuery attribute;
  attribute.attribute = 4;  // CU_FUNC_ATTRIBUTE_NUM_REGS
  EXPECT_EQ(scale.Query(attribute).value_or(-1), FakeFunctionAttribute(4));
  attribute.attribute = 9999;
  EXPECT_STATUS(scale.Query(attribute), kInvalidArgument);
  KernelQuery blocks;
  blocks.kind = KernelQuery::Kind::kMaxActiveBlocksPerMultiprocessor;
  blocks.block.x = 256;
  blocks.dynamic_shared_bytes = 64 * 1024;  // past 48 KiB: the kernel opts in first
  EXPECT_EQ(scale.Query(blocks).value_or(-1), FakeMaxActiveBlocks(256, 64 * 1024));
  KernelQuery shared;
  shared.kind = KernelQuery::Kind::kAvailableDynamicSharedMemoryPerBlock;
  shared.blocks = 4;
  shared.block.x = 256;
  EXPECT_EQ(scale.Query(shared).value_or(-1), FakeAvailableDynamicSharedMemory(4));
  KernelQuery clusters;
  clusters.kind = KernelQuery::Kind::kMaxActiveClusters;
  clusters.grid.x = 64;
  clusters.block.x = 256;
  clusters.cluster.x = 2;
  EXPECT_EQ(scale.Query(clusters).value_or(-1), FakeMaxActiveClusters(2));
  // Hostile values: more threads than an int holds, a kind nobody knows.
  blocks.block.x = 0x80000000u;
  EXPECT_STATUS(scale.Query(blocks), kInvalidArgument);
  KernelQuery unknown;
  unknown.kind = static_cast<KernelQuery::Kind>(77);
  EXPECT_STATUS(scale.Query(unknown), kInvalidArgument);
}

TEST(CudaBackendTest, DefaultLibraryLoadsWithoutCrashing) {
  // Whatever this host has (libcuda.so.1 or not), opening the backend works;
  // with a GPU it has devices, without one it says why.
  unsetenv("ACCEL_CUDA_LIBRARY");
  RegistryOptions options;
  options.search_path = {ACCEL_TEST_BACKEND_DIR};
  options.only = {"cuda"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Registry> registry, Registry::Create(options));
  ASSERT_OK_AND_ASSIGN(Backend backend, registry->GetBackend("cuda"));
  if (backend.available()) {
    EXPECT_FALSE(backend.devices().empty());
  } else {
    EXPECT_FALSE(backend.unavailable_reason().empty());
  }
}

}  // namespace
}  // namespace accel::hal
