// The rocm backend on hosts without an AMD GPU: it must load, report no
// devices, and say exactly why — no driver library, or a driver with no
// device — with reasons a user can tell apart.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "accel/hal/registry.h"
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

}  // namespace
}  // namespace accel::hal
