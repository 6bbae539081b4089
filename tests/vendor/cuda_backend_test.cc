// The cuda backend on hosts without an NVIDIA GPU: each way of having no
// device gives its own, exact reason, and the backend still loads.
//
// Built twice (see tests/CMakeLists.txt): as the test, and with
// ACCEL_FAKE_CUDA_DRIVER as a stand-in libcuda whose cuInit result is chosen
// by the test and which reports no devices, or with
// ACCEL_FAKE_CUDA_DEVICES=1 one device that can be opened and described
// (its attributes are FakeAttribute's) but allocates and runs nothing. With
// the toolkit's stub libcuda.so (where installed) the "init failed" path is
// also tested against NVIDIA's own library.
#ifdef ACCEL_FAKE_CUDA_DRIVER

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "tests/vendor/fake_cuda_attributes.h"

// Only the entry points the backend calls while opening need their real
// signatures; the rest exist, under the versioned names cuda.h selects, so
// the backend finds a complete table. They answer CUDA_ERROR_NOT_SUPPORTED.
#define FAKE_EXPORT extern "C" __attribute__((visibility("default")))
constexpr int kNotSupported = 801;

FAKE_EXPORT int cuInit(unsigned int /*flags*/) {
  const char* result = std::getenv("ACCEL_FAKE_CUDA_INIT_RESULT");
  return result != nullptr ? static_cast<int>(std::strtol(result, nullptr, 0)) : 0;
}
FAKE_EXPORT int cuDriverGetVersion(int* version) {
  *version = 12040;
  return 0;
}
FAKE_EXPORT int cuDeviceGetCount(int* count) {
  const char* devices = std::getenv("ACCEL_FAKE_CUDA_DEVICES");
  *count = devices != nullptr ? static_cast<int>(std::strtol(devices, nullptr, 10)) : 0;
  return 0;
}

// The device: enough of the driver for the backend to open and describe it.
constexpr int kInvalidValue = 1;
FAKE_EXPORT int cuDeviceGet(int* device, int ordinal) {
  *device = ordinal;
  return 0;
}
FAKE_EXPORT int cuDeviceGetName(char* name, int length, int /*device*/) {
  std::snprintf(name, static_cast<size_t>(length), "Fake CUDA Device");
  return 0;
}
FAKE_EXPORT int cuDeviceGetAttribute(int* value, int attribute, int /*device*/) {
  const int answer = FakeAttribute(attribute);
  if (answer < 0) return kInvalidValue;
  *value = answer;
  return 0;
}
FAKE_EXPORT int cuDeviceTotalMem_v2(size_t* bytes, int /*device*/) {
  *bytes = size_t{80} << 30;
  return 0;
}
FAKE_EXPORT int cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
  *free_bytes = *total = size_t{80} << 30;
  return 0;
}
FAKE_EXPORT int cuDeviceGetPCIBusId(char* id, int length, int /*device*/) {
  std::snprintf(id, static_cast<size_t>(length), "0000:3B:00.0");
  return 0;
}
static int fake_context;  // the primary context's handle points here
static thread_local void* current_context = nullptr;
FAKE_EXPORT int cuDevicePrimaryCtxRetain(void** context, int /*device*/) {
  *context = &fake_context;
  return 0;
}
FAKE_EXPORT int cuDevicePrimaryCtxRelease_v2(int /*device*/) { return 0; }
FAKE_EXPORT int cuCtxGetCurrent(void** context) {
  *context = current_context;
  return 0;
}
FAKE_EXPORT int cuCtxSetCurrent(void* context) {
  current_context = context;
  return 0;
}
FAKE_EXPORT int cuCtxSynchronize() { return 0; }
static int fake_stream;
FAKE_EXPORT int cuStreamCreate(void** stream, unsigned int /*flags*/) {
  *stream = &fake_stream;
  return 0;
}
FAKE_EXPORT int cuStreamDestroy_v2(void* /*stream*/) { return 0; }
FAKE_EXPORT int cuStreamSynchronize(void* /*stream*/) { return 0; }

#define FAKE_STUB(name) \
  FAKE_EXPORT int name() { return kNotSupported; }
FAKE_STUB(cuGetErrorName)
FAKE_STUB(cuGetErrorString)
FAKE_STUB(cuMemAlloc_v2)
FAKE_STUB(cuMemFree_v2)
FAKE_STUB(cuMemsetD8Async)
FAKE_STUB(cuMemsetD16Async)
FAKE_STUB(cuMemsetD32Async)
FAKE_STUB(cuMemcpyHtoDAsync_v2)
FAKE_STUB(cuMemcpyDtoHAsync_v2)
FAKE_STUB(cuMemcpyDtoDAsync_v2)
FAKE_STUB(cuStreamQuery)
FAKE_STUB(cuStreamWaitEvent)
FAKE_STUB(cuEventCreate)
FAKE_STUB(cuEventDestroy_v2)
FAKE_STUB(cuEventRecord)
FAKE_STUB(cuEventSynchronize)
FAKE_STUB(cuEventQuery)
// Only the pre-12.8 name: the backend must fall back to it.
FAKE_STUB(cuEventElapsedTime)
FAKE_STUB(cuModuleLoadData)
FAKE_STUB(cuModuleUnload)
FAKE_STUB(cuModuleGetFunction)
FAKE_STUB(cuLaunchKernel)
FAKE_STUB(cuFuncSetAttribute)

#else  // the test

#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/match.h"
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
  absl::StatusOr<std::unique_ptr<Registry> > registry = Registry::Create(options);
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

TEST(CudaBackendTest, ADeviceCarriesEveryAttributeItsDriverAnswers) {
  setenv("ACCEL_CUDA_LIBRARY", ACCEL_TEST_FAKE_CUDA_DRIVER, 1);
  setenv("ACCEL_FAKE_CUDA_INIT_RESULT", "0", 1);
  setenv("ACCEL_FAKE_CUDA_DEVICES", "1", 1);
  RegistryOptions options;
  options.search_path = {ACCEL_TEST_BACKEND_DIR};
  options.only = {"cuda"};
  absl::StatusOr<std::unique_ptr<Registry> > registry = Registry::Create(options);
  unsetenv("ACCEL_CUDA_LIBRARY");
  unsetenv("ACCEL_FAKE_CUDA_INIT_RESULT");
  unsetenv("ACCEL_FAKE_CUDA_DEVICES");
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

#endif  // ACCEL_FAKE_CUDA_DRIVER
