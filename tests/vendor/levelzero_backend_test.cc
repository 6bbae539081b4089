// The levelzero backend on hosts without an Intel GPU: each way of having no
// device gives its own, exact reason, and the backend still loads.
//
// Built twice (see tests/CMakeLists.txt): as the test, and with
// ACCEL_FAKE_ZE_LOADER as a stand-in libze_loader whose zeInit result is
// chosen by the test and which reports one driver with no devices. That
// reaches the "init failed" and "driver present but no device" paths on any
// host, GPU or not; the real loader is tested too, where it is installed.
#ifdef ACCEL_FAKE_ZE_LOADER

#include <cstdint>
#include <cstdlib>

// Only the entry points the backend calls while opening need their real
// signatures; the rest exist so the backend finds a complete table, and
// answer ZE_RESULT_ERROR_UNSUPPORTED_FEATURE if ever called.
#define FAKE_EXPORT extern "C" __attribute__((visibility("default")))
constexpr int32_t kUnsupportedFeature = 0x78000003;

FAKE_EXPORT int32_t zeInit(uint32_t /*flags*/) {
  const char* result = std::getenv("ACCEL_FAKE_ZE_INIT_RESULT");
  return result != nullptr ? static_cast<int32_t>(std::strtoul(result, nullptr, 0)) : 0;
}

FAKE_EXPORT int32_t zeDriverGet(uint32_t* count, void** drivers) {
  if (drivers != nullptr && *count >= 1) drivers[0] = reinterpret_cast<void*>(0x1);
  *count = 1;
  return 0;
}

FAKE_EXPORT int32_t zeDeviceGet(void* /*driver*/, uint32_t* count, void** /*devices*/) {
  *count = 0;
  return 0;
}

#define FAKE_STUB(name) \
  FAKE_EXPORT int32_t name() { return kUnsupportedFeature; }
FAKE_STUB(zeDeviceGetProperties)
FAKE_STUB(zeDeviceGetComputeProperties)
FAKE_STUB(zeDeviceGetMemoryProperties)
FAKE_STUB(zeDeviceGetCommandQueueGroupProperties)
FAKE_STUB(zeContextCreate)
FAKE_STUB(zeContextDestroy)
FAKE_STUB(zeMemAllocDevice)
FAKE_STUB(zeMemAllocHost)
FAKE_STUB(zeMemFree)
FAKE_STUB(zeCommandListCreateImmediate)
FAKE_STUB(zeCommandListDestroy)
FAKE_STUB(zeCommandListAppendMemoryCopy)
FAKE_STUB(zeCommandListAppendMemoryFill)
FAKE_STUB(zeCommandListAppendLaunchKernel)
FAKE_STUB(zeCommandListAppendBarrier)
FAKE_STUB(zeCommandListAppendWriteGlobalTimestamp)
FAKE_STUB(zeEventPoolCreate)
FAKE_STUB(zeEventPoolDestroy)
FAKE_STUB(zeEventCreate)
FAKE_STUB(zeEventDestroy)
FAKE_STUB(zeEventHostSynchronize)
FAKE_STUB(zeEventQueryStatus)
FAKE_STUB(zeEventHostReset)
FAKE_STUB(zeModuleCreate)
FAKE_STUB(zeModuleDestroy)
FAKE_STUB(zeModuleBuildLogGetString)
FAKE_STUB(zeModuleBuildLogDestroy)
FAKE_STUB(zeKernelCreate)
FAKE_STUB(zeKernelDestroy)
FAKE_STUB(zeKernelGetProperties)
FAKE_STUB(zeKernelSetGroupSize)
FAKE_STUB(zeKernelSetArgumentValue)

#else  // the test

#include <dlfcn.h>
#include <stdlib.h>

#include <iostream>
#include <memory>
#include <set>
#include <string>

#include "accel/hal/registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/status_matchers.h"

namespace accel::hal {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

constexpr char kLibraryEnv[] = "ACCEL_LEVEL_ZERO_LIBRARY";
constexpr char kFakeInitEnv[] = "ACCEL_FAKE_ZE_INIT_RESULT";

class LevelZeroBackendTest : public ::testing::Test {
 protected:
  void TearDown() override {
    unsetenv(kLibraryEnv);
    unsetenv(kFakeInitEnv);
  }

  // Opens a registry holding only the levelzero backend, with the driver
  // library set to `library` ("" leaves the default, libze_loader.so.1).
  // The backend reads the variable when it opens, so it is set first.
  Backend Open(const std::string& library) {
    if (library.empty()) {
      unsetenv(kLibraryEnv);
    } else {
      setenv(kLibraryEnv, library.c_str(), /*overwrite=*/1);
    }
    RegistryOptions options;
    options.search_path = {ACCEL_TEST_BACKEND_DIR};
    options.only = {"levelzero"};
    absl::StatusOr<std::unique_ptr<Registry> > registry = Registry::Create(options);
    EXPECT_TRUE(registry.ok()) << registry.status();
    if (!registry.ok()) return Backend();
    registry_ = *std::move(registry);
    EXPECT_TRUE(registry_->load_failures().empty())
        << registry_->load_failures().front().library_path << ": "
        << registry_->load_failures().front().reason;
    absl::StatusOr<Backend> backend = registry_->GetBackend("levelzero");
    EXPECT_TRUE(backend.ok()) << backend.status();
    return backend.ok() ? *backend : Backend();
  }

  // The reason of a backend that must have loaded without devices.
  std::string ReasonWith(const std::string& library) {
    Backend backend = Open(library);
    EXPECT_EQ(backend.name(), "levelzero");
    EXPECT_FALSE(backend.available());
    EXPECT_TRUE(backend.devices().empty());
    return backend.unavailable_reason();
  }

  std::unique_ptr<Registry> registry_;
};

TEST_F(LevelZeroBackendTest, MissingLoaderIsNoDriver) {
  const std::string path = "/nonexistent/accelpool/libze_loader.so.1";
  std::string reason = ReasonWith(path);
  EXPECT_THAT(reason, StartsWith("no driver: cannot load " + path + " ("));
  // dlerror's own words follow, so the operator sees why the load failed.
  EXPECT_THAT(reason, HasSubstr("No such file or directory"));
}

TEST_F(LevelZeroBackendTest, LibraryThatIsNotALoaderIsNoDriver) {
  std::string reason = ReasonWith("libm.so.6");
  EXPECT_THAT(reason, StartsWith("no driver: libm.so.6 is not a usable Level Zero loader"));
  EXPECT_THAT(reason, HasSubstr("zeInit"));
}

TEST_F(LevelZeroBackendTest, InitFailureNamesTheZeResult) {
  setenv(kFakeInitEnv, "0x78000001", 1);
  EXPECT_EQ(ReasonWith(ACCEL_TEST_FAKE_ZE_LOADER),
            "init failed: zeInit returned ZE_RESULT_ERROR_UNINITIALIZED (0x78000001)");
  setenv(kFakeInitEnv, "0x70000001", 1);
  EXPECT_EQ(ReasonWith(ACCEL_TEST_FAKE_ZE_LOADER),
            "init failed: zeInit returned ZE_RESULT_ERROR_DEVICE_LOST (0x70000001)");
  // A value newer than the backend's table still shows its number.
  setenv(kFakeInitEnv, "0x7abcdef0", 1);
  EXPECT_EQ(ReasonWith(ACCEL_TEST_FAKE_ZE_LOADER),
            "init failed: zeInit returned ZE_RESULT_<unknown> (0x7abcdef0)");
}

TEST_F(LevelZeroBackendTest, DriverWithoutDevicesIsReported) {
  EXPECT_EQ(ReasonWith(ACCEL_TEST_FAKE_ZE_LOADER), "driver present but no device");
}

TEST_F(LevelZeroBackendTest, ReasonsAreDistinct) {
  std::set<std::string> kinds;
  kinds.insert(ReasonWith("/nonexistent/libze_loader.so.1").substr(0, 24));
  setenv(kFakeInitEnv, "0x78000001", 1);
  kinds.insert(ReasonWith(ACCEL_TEST_FAKE_ZE_LOADER).substr(0, 24));
  unsetenv(kFakeInitEnv);
  kinds.insert(ReasonWith(ACCEL_TEST_FAKE_ZE_LOADER).substr(0, 24));
  EXPECT_EQ(kinds.size(), 3u);
}

// The host's own libze_loader.so.1 (Debian: libze1). Without Intel's GPU
// driver (intel-level-zero-gpu) zeInit fails, which is this machine's case;
// with a GPU the backend has devices and the conformance suite covers it.
TEST_F(LevelZeroBackendTest, SystemLoaderWithoutAGpuDriver) {
  void* loader = dlopen("libze_loader.so.1", RTLD_NOW | RTLD_LOCAL);
  if (loader == nullptr) GTEST_SKIP() << "libze_loader.so.1 is not installed here";
  dlclose(loader);
  Backend backend = Open("");
  if (backend.available()) {
    GTEST_SKIP() << "this host has Level Zero devices: " << backend.devices().size();
  }
  const std::string& reason = backend.unavailable_reason();
  if (reason != "driver present but no device") {
    EXPECT_THAT(reason, MatchesRegex("init failed: ze[A-Za-z]+( returned|:) "
                                     "ZE_RESULT_[A-Z_]+ \\(0x[0-9a-f]{8}\\).*"));
  }
  RecordProperty("reason", reason);
  std::cout << "levelzero on this host: " << reason << "\n";
}

}  // namespace
}  // namespace accel::hal

#endif  // ACCEL_FAKE_ZE_LOADER
