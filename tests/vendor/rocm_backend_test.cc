// The rocm backend on hosts without an AMD GPU: it must load, report no
// devices, and say exactly why — no driver library, or a driver with no
// device — with reasons a user can tell apart. Also its hsaco image checks,
// which keep truncated images away from hipModuleLoadData.
#include <dlfcn.h>
#include <elf.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "accel/hal/registry.h"
#include "backends/rocm/hsaco_image.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/status_matchers.h"

namespace accel::hal {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Sets ACCEL_HIP_LIBRARY (or unsets it, for nullopt) for one test, and puts
// the previous value back after.
class ScopedHipLibrary {
 public:
  explicit ScopedHipLibrary(const std::optional<std::string>& value) {
    if (const char* old = std::getenv(kVariable)) old_ = old;
    if (value) {
      setenv(kVariable, value->c_str(), 1);
    } else {
      unsetenv(kVariable);
    }
  }
  ~ScopedHipLibrary() {
    if (old_) {
      setenv(kVariable, old_->c_str(), 1);
    } else {
      unsetenv(kVariable);
    }
  }

 private:
  static constexpr const char* kVariable = "ACCEL_HIP_LIBRARY";
  std::optional<std::string> old_;
};

// A registry with only the rocm backend of this build.
std::unique_ptr<Registry> RocmRegistry(std::map<std::string, std::string> options = {}) {
  RegistryOptions registry_options;
  registry_options.search_path = {ACCEL_TEST_BACKEND_DIR};
  registry_options.only = {"rocm"};
  registry_options.backend_options["rocm"] = std::move(options);
  absl::StatusOr<std::unique_ptr<Registry>> registry = Registry::Create(registry_options);
  EXPECT_OK(registry.status());
  return registry.ok() ? std::move(*registry) : nullptr;
}

// The rocm backend's reason for having no devices; fails the test when the
// backend is missing or has devices.
std::string ReasonOf(const Registry& registry) {
  absl::StatusOr<Backend> rocm = registry.GetBackend("rocm");
  EXPECT_OK(rocm.status());
  if (!rocm.ok()) return "";
  EXPECT_FALSE(rocm->available());
  EXPECT_TRUE(rocm->devices().empty());
  EXPECT_STATUS(registry.GetDevice("rocm:0"), kNotFound);
  return rocm->unavailable_reason();
}

TEST(RocmBackendTest, MissingLibraryMeansNoDriver) {
  ScopedHipLibrary hip("/nonexistent/accelpool/libamdhip64.so");
  std::unique_ptr<Registry> registry = RocmRegistry();
  ASSERT_NE(registry, nullptr);
  EXPECT_TRUE(registry->load_failures().empty());
  std::string reason = ReasonOf(*registry);
  EXPECT_THAT(reason, StartsWith("no driver: cannot load /nonexistent/accelpool/libamdhip64.so ("));
  EXPECT_THAT(reason, HasSubstr("No such file or directory"));  // dlerror's text
}

TEST(RocmBackendTest, LibraryOptionOverridesTheEnvironment) {
  ScopedHipLibrary hip("/nonexistent/from-env/libamdhip64.so");
  std::unique_ptr<Registry> registry =
      RocmRegistry({{"library", "/nonexistent/from-option/libamdhip64.so"}});
  ASSERT_NE(registry, nullptr);
  EXPECT_THAT(ReasonOf(*registry),
              StartsWith("no driver: cannot load /nonexistent/from-option/libamdhip64.so ("));
}

TEST(RocmBackendTest, LibraryThatIsNotHipMeansNoDriver) {
  // A library that loads but has no HIP runtime in it.
  ScopedHipLibrary hip("libc.so.6");
  std::unique_ptr<Registry> registry = RocmRegistry();
  ASSERT_NE(registry, nullptr);
  std::string reason = ReasonOf(*registry);
  EXPECT_THAT(reason, StartsWith("no driver: libc.so.6 lacks hipInit"));
}

TEST(RocmBackendTest, DriverWithoutDeviceSaysSo) {
  // Needs the real HIP runtime (Debian: libamdhip64-5) and no AMD GPU.
  void* hip = dlopen("libamdhip64.so", RTLD_LAZY | RTLD_LOCAL);
  if (hip == nullptr) GTEST_SKIP() << "libamdhip64.so is not installed: " << dlerror();
  dlclose(hip);
  if (access("/dev/kfd", F_OK) == 0) {
    GTEST_SKIP() << "/dev/kfd exists: this host may have an AMD GPU, so no device is not "
                    "the expected answer (the conformance suite covers that case)";
  }
  ScopedHipLibrary unset(std::nullopt);
  std::unique_ptr<Registry> registry = RocmRegistry();
  ASSERT_NE(registry, nullptr);
  std::string reason = ReasonOf(*registry);
  EXPECT_THAT(reason, StartsWith("driver present but no device: libamdhip64.so loaded, "));
  // HIP's own error name and number are kept for the user to look up.
  EXPECT_THAT(reason, HasSubstr("hipGetDeviceCount returned hipErrorNoDevice (100)"));
  EXPECT_THAT(reason, HasSubstr("/dev/kfd is absent"));
}

TEST(RocmBackendTest, ReasonsAreDistinct) {
  std::string no_driver;
  {
    ScopedHipLibrary hip("/nonexistent/accelpool/libamdhip64.so");
    std::unique_ptr<Registry> registry = RocmRegistry();
    ASSERT_NE(registry, nullptr);
    no_driver = ReasonOf(*registry);
  }
  void* hip = dlopen("libamdhip64.so", RTLD_LAZY | RTLD_LOCAL);
  if (hip == nullptr) GTEST_SKIP() << "libamdhip64.so is not installed: " << dlerror();
  dlclose(hip);
  if (access("/dev/kfd", F_OK) == 0) GTEST_SKIP() << "/dev/kfd exists: this host may have a GPU";
  ScopedHipLibrary unset(std::nullopt);
  std::unique_ptr<Registry> registry = RocmRegistry();
  ASSERT_NE(registry, nullptr);
  std::string no_device = ReasonOf(*registry);
  EXPECT_NE(no_driver.substr(0, 10), no_device.substr(0, 10)) << no_driver << "\n" << no_device;
}

// --- hsaco image checks ---------------------------------------------------------

using ::accel::rocm::CheckHsacoImage;

constexpr uint64_t kTextOffset = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr);
constexpr uint64_t kTextSize = 256;
constexpr uint64_t kSectionTableOffset = kTextOffset + kTextSize;

// A minimal AMDGPU code object laid out as the linker lays out a real one:
// ELF header, one PT_LOAD program header, .text, then the section header
// table (null section, .text, a NOBITS .bss) at the very end.
std::string CodeObject() {
  Elf64_Ehdr header{};
  std::memcpy(header.e_ident, ELFMAG, SELFMAG);
  header.e_ident[EI_CLASS] = ELFCLASS64;
  header.e_ident[EI_DATA] = ELFDATA2LSB;
  header.e_ident[EI_VERSION] = EV_CURRENT;
  header.e_type = ET_DYN;
  header.e_machine = 224;  // EM_AMDGPU
  header.e_version = EV_CURRENT;
  header.e_ehsize = sizeof(Elf64_Ehdr);
  header.e_phoff = sizeof(Elf64_Ehdr);
  header.e_phentsize = sizeof(Elf64_Phdr);
  header.e_phnum = 1;
  header.e_shoff = kSectionTableOffset;
  header.e_shentsize = sizeof(Elf64_Shdr);
  header.e_shnum = 3;
  header.e_shstrndx = SHN_UNDEF;
  Elf64_Phdr load{};
  load.p_type = PT_LOAD;
  load.p_offset = 0;
  load.p_filesz = kSectionTableOffset;
  load.p_memsz = kSectionTableOffset;
  Elf64_Shdr sections[3] = {};
  sections[1].sh_type = SHT_PROGBITS;
  sections[1].sh_offset = kTextOffset;
  sections[1].sh_size = kTextSize;
  sections[2].sh_type = SHT_NOBITS;  // takes no bytes in the file
  sections[2].sh_offset = kSectionTableOffset;
  sections[2].sh_size = 1 << 20;
  std::string image(reinterpret_cast<const char*>(&header), sizeof(header));
  image.append(reinterpret_cast<const char*>(&load), sizeof(load));
  image.append(kTextSize, '\x5a');
  image.append(reinterpret_cast<const char*>(sections), sizeof(sections));
  return image;
}

template <typename T>
void Patch(std::string* image, uint64_t offset, const T& value) {
  std::memcpy(image->data() + offset, &value, sizeof(value));
}

uint64_t SectionField(int section, size_t field_offset) {
  return kSectionTableOffset + section * sizeof(Elf64_Shdr) + field_offset;
}

// A clang offload bundle of `entries` (triple, bytes), laid out as
// clang-offload-bundler does: header, entry table, then the entries' bytes.
std::string Bundle(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string table;
  uint64_t header_size = 24 + 8;
  for (const auto& [triple, bytes] : entries) header_size += 24 + triple.size();
  uint64_t offset = header_size;
  std::string payload;
  auto u64 = [](std::string* out, uint64_t value) {
    out->append(reinterpret_cast<const char*>(&value), sizeof(value));
  };
  for (const auto& [triple, bytes] : entries) {
    u64(&table, bytes.empty() ? 0 : offset);
    u64(&table, bytes.size());
    u64(&table, triple.size());
    table += triple;
    offset += bytes.size();
    payload += bytes;
  }
  std::string image = "__CLANG_OFFLOAD_BUNDLE__";
  u64(&image, entries.size());
  return image + table + payload;
}

const char kHostTriple[] = "host-x86_64-unknown-linux-gnu";
const char kGpuTriple[] = "hipv4-amdgcn-amd-amdhsa--gfx90a";

TEST(HsacoImageTest, AcceptsAWellFormedCodeObject) { EXPECT_OK(CheckHsacoImage(CodeObject())); }

TEST(HsacoImageTest, RejectsEveryTruncation) {
  const std::string image = CodeObject();
  for (size_t size = 0; size < image.size(); ++size) {
    EXPECT_STATUS(CheckHsacoImage(absl::string_view(image).substr(0, size)), kInvalidArgument)
        << "truncated to " << size << " bytes";
  }
}

TEST(HsacoImageTest, RejectsASectionPastTheEnd) {
  std::string image = CodeObject();
  Patch(&image, SectionField(1, offsetof(Elf64_Shdr, sh_size)), uint64_t{1} << 20);
  absl::Status status = CheckHsacoImage(image);
  EXPECT_STATUS(status, kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("section 1 ends past"));
}

TEST(HsacoImageTest, RejectsASectionWhoseEndOverflows) {
  std::string image = CodeObject();
  Patch(&image, SectionField(1, offsetof(Elf64_Shdr, sh_offset)), ~uint64_t{0} - 8);
  EXPECT_STATUS(CheckHsacoImage(image), kInvalidArgument);
  image = CodeObject();
  Patch(&image, SectionField(1, offsetof(Elf64_Shdr, sh_size)), ~uint64_t{0} - 8);
  EXPECT_STATUS(CheckHsacoImage(image), kInvalidArgument);
}

TEST(HsacoImageTest, RejectsALoadableSegmentPastTheEnd) {
  std::string image = CodeObject();
  Patch(&image, sizeof(Elf64_Ehdr) + offsetof(Elf64_Phdr, p_filesz),
        uint64_t{kSectionTableOffset + 3 * sizeof(Elf64_Shdr) + 1});
  absl::Status status = CheckHsacoImage(image);
  EXPECT_STATUS(status, kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("loadable segment 0 ends past"));
}

TEST(HsacoImageTest, RejectsHeaderTablesPastTheEnd) {
  std::string image = CodeObject();
  Patch(&image, offsetof(Elf64_Ehdr, e_shnum), uint16_t{4});
  EXPECT_STATUS(CheckHsacoImage(image), kInvalidArgument);
  image = CodeObject();
  Patch(&image, offsetof(Elf64_Ehdr, e_phoff), uint64_t{image.size()});
  EXPECT_STATUS(CheckHsacoImage(image), kInvalidArgument);
  image = CodeObject();
  Patch(&image, offsetof(Elf64_Ehdr, e_shentsize), uint16_t{sizeof(Elf64_Shdr) / 2});
  EXPECT_STATUS(CheckHsacoImage(image), kInvalidArgument);
  image = CodeObject();
  Patch(&image, offsetof(Elf64_Ehdr, e_shstrndx), uint16_t{3});
  EXPECT_STATUS(CheckHsacoImage(image), kInvalidArgument);
}

TEST(HsacoImageTest, RejectsWhatIsNotAnAmdgpuCodeObject) {
  EXPECT_STATUS(CheckHsacoImage(""), kInvalidArgument);
  EXPECT_STATUS(CheckHsacoImage(std::string(4096, '\0')), kInvalidArgument);
  std::string image = CodeObject();
  Patch(&image, offsetof(Elf64_Ehdr, e_machine), uint16_t{EM_X86_64});
  absl::Status status = CheckHsacoImage(image);
  EXPECT_STATUS(status, kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("not AMDGPU"));
  image = CodeObject();
  image[EI_CLASS] = ELFCLASS32;
  EXPECT_STATUS(CheckHsacoImage(image), kInvalidArgument);
}

TEST(HsacoImageTest, AcceptsAWellFormedBundle) {
  EXPECT_OK(CheckHsacoImage(Bundle({{kHostTriple, ""}, {kGpuTriple, CodeObject()}})));
}

TEST(HsacoImageTest, RejectsEveryTruncationOfABundle) {
  const std::string image = Bundle({{kHostTriple, ""}, {kGpuTriple, CodeObject()}});
  for (size_t size = 0; size < image.size(); ++size) {
    EXPECT_STATUS(CheckHsacoImage(absl::string_view(image).substr(0, size)), kInvalidArgument)
        << "truncated to " << size << " bytes";
  }
}

TEST(HsacoImageTest, RejectsABundleWithABadEntry) {
  // The code object inside is truncated, though the bundle's sizes agree.
  std::string object = CodeObject();
  object.resize(object.size() - 1);
  absl::Status status = CheckHsacoImage(Bundle({{kHostTriple, ""}, {kGpuTriple, object}}));
  EXPECT_STATUS(status, kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr(kGpuTriple));
  // An entry that is not an ELF file at all.
  EXPECT_STATUS(CheckHsacoImage(Bundle({{kGpuTriple, std::string(128, 'x')}})), kInvalidArgument);
  // No GPU code in it.
  EXPECT_STATUS(CheckHsacoImage(Bundle({{kHostTriple, ""}})), kInvalidArgument);
  EXPECT_STATUS(CheckHsacoImage(Bundle({})), kInvalidArgument);
}

TEST(HsacoImageTest, RejectsABundleWhoseTableLies) {
  const std::string good = Bundle({{kGpuTriple, CodeObject()}});
  constexpr uint64_t kCount = 24, kOffset = 32, kSize = 40, kTripleSize = 48;
  std::string image = good;
  Patch(&image, kCount, ~uint64_t{0});
  EXPECT_STATUS(CheckHsacoImage(image), kInvalidArgument);
  image = good;
  Patch(&image, kOffset, uint64_t{image.size()});
  EXPECT_STATUS(CheckHsacoImage(image), kInvalidArgument);
  image = good;
  Patch(&image, kOffset, ~uint64_t{0} - 8);
  EXPECT_STATUS(CheckHsacoImage(image), kInvalidArgument);
  image = good;
  Patch(&image, kSize, uint64_t{image.size()});
  EXPECT_STATUS(CheckHsacoImage(image), kInvalidArgument);
  image = good;
  Patch(&image, kTripleSize, ~uint64_t{0});
  EXPECT_STATUS(CheckHsacoImage(image), kInvalidArgument);
}

// The code objects this build compiled (tests/kernels/rocm), when it did.
std::vector<std::string> BuiltCodeObjects() {
  std::vector<std::string> images;
  for (const char* gfx : {"gfx906", "gfx908", "gfx90a", "gfx1030", "gfx1100"}) {
    std::ifstream in(std::string(ACCEL_TEST_HSACO_DIR) + "/accel_kernels_" + gfx + ".hsaco",
                     std::ios::binary);
    if (!in) continue;
    std::ostringstream bytes;
    bytes << in.rdbuf();
    images.push_back(bytes.str());
  }
  return images;
}

TEST(HsacoImageTest, AcceptsTheBuiltKernelsAndRejectsTheirTruncations) {
  const std::vector<std::string> images = BuiltCodeObjects();
  if (images.empty()) GTEST_SKIP() << "no hsaco kernels built in " << ACCEL_TEST_HSACO_DIR;
  for (const std::string& image : images) {
    ASSERT_OK(CheckHsacoImage(image));
    EXPECT_OK(CheckHsacoImage(Bundle({{kHostTriple, ""}, {kGpuTriple, image}})));
    // The linker puts the section header table last, so every cut loses part of it.
    for (size_t size = 0; size < image.size(); ++size) {
      absl::Status status = CheckHsacoImage(absl::string_view(image).substr(0, size));
      ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
          << "truncated to " << size << " of " << image.size() << " bytes: " << status;
    }
  }
}

}  // namespace
}  // namespace accel::hal
