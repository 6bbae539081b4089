// accelpool's libnvidia-ml.so.1, loaded as a monitoring tool loads NVML:
// it shows the devices of the leases the caller's token sees, with their
// names, UUIDs and memory (quota and use), nothing of another tenant's, a
// device whose lease ended as lost, and clear NVML errors for bad calls.
#include <dlfcn.h>
#include <stdlib.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "accel/client/lease.h"
#include "clients/nvml/leased_devices.h"
#include "clients/nvml/nvml_types.h"
#include "gtest/gtest.h"
#include "pool/common/sha256.h"
#include "pool/poold/poold.h"
#include "tests/common/scoped_temp_dir.h"
#include "tests/common/status_matchers.h"
#include "tests/poold/loopback_poold.h"

namespace accel::nvml {
namespace {

constexpr char kRisk[] = "tenant-risk-token-0123456789abcd";
constexpr char kOps[] = "tenant-ops-token-0123456789abcde";
constexpr char kOperator[] = "operator-token-0123456789abcdefg";

// NVML's entry points, from the library as a tool would dlopen it.
struct Nvml {
  void* library = nullptr;
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  nvmlReturn_t (*count)(unsigned int*) = nullptr;
  nvmlReturn_t (*by_index)(unsigned int, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*by_uuid)(const char*, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*name)(nvmlDevice_t, char*, unsigned int) = nullptr;
  nvmlReturn_t (*uuid)(nvmlDevice_t, char*, unsigned int) = nullptr;
  nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*memory_v2)(nvmlDevice_t, nvmlMemory_v2_t*) = nullptr;
  nvmlReturn_t (*utilization)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  const char* (*error)(nvmlReturn_t) = nullptr;

  template <typename F>
  void Load(F& f, const char* name) {
    f = reinterpret_cast<F>(dlsym(library, name));
    ASSERT_NE(f, nullptr) << name;
  }
};

class NvmlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    std::ofstream(dir_.Path("tenants"))
        << "tenant risk token_sha256=" << absl::BytesToHexString(pool::Sha256(kRisk)) << "\n"
        << "tenant ops token_sha256=" << absl::BytesToHexString(pool::Sha256(kOps)) << "\n";
    std::ofstream(dir_.Path("operator")) << kOperator << "\n";
    pool::PooldOptions options = ::accel::testing::LoopbackPoold("nvml", 2);
    options.tenants = dir_.Path("tenants");
    options.operator_token_file = dir_.Path("operator");
    ASSERT_OK_AND_ASSIGN(poold_, pool::Poold::Start(options));
    nvml_.library = dlopen(ACCEL_TEST_NVML, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(nvml_.library, nullptr) << dlerror();
    nvml_.Load(nvml_.init, "nvmlInit_v2");
    nvml_.Load(nvml_.shutdown, "nvmlShutdown");
    nvml_.Load(nvml_.count, "nvmlDeviceGetCount_v2");
    nvml_.Load(nvml_.by_index, "nvmlDeviceGetHandleByIndex_v2");
    nvml_.Load(nvml_.by_uuid, "nvmlDeviceGetHandleByUUID");
    nvml_.Load(nvml_.name, "nvmlDeviceGetName");
    nvml_.Load(nvml_.uuid, "nvmlDeviceGetUUID");
    nvml_.Load(nvml_.memory, "nvmlDeviceGetMemoryInfo");
    nvml_.Load(nvml_.memory_v2, "nvmlDeviceGetMemoryInfo_v2");
    nvml_.Load(nvml_.utilization, "nvmlDeviceGetUtilizationRates");
    nvml_.Load(nvml_.error, "nvmlErrorString");
    setenv("ACCEL_POOL", poold_->address().c_str(), 1);
  }
  void TearDown() override {
    // The library's state is the process's: leave it uninitialised.
    for (int i = 0; i < 8 && nvml_.shutdown != nullptr && nvml_.shutdown() == NVML_SUCCESS; ++i) {
    }
    unsetenv("ACCEL_POOL");
    unsetenv("ACCEL_POOL_TOKEN");
  }

  // A fractional lease of `memory` bytes for `token`, with `used` of them allocated.
  void Lease(const char* token, uint64_t memory, uint64_t used) {
    client::LeaseRequest request;
    request.token = token;
    request.memory = memory;
    request.holder = "nvml test";
    ASSERT_OK_AND_ASSIGN(lease_, client::AcquireLease(poold_->address(), request));
    ASSERT_OK_AND_ASSIGN(buffer_, lease_->devices().at(0).Allocate(used));
  }
  // A whole device for `token`, held until the test ends.
  void LeaseAnother(const char* token) {
    client::LeaseRequest request;
    request.token = token;
    request.holder = "nvml test";
    ASSERT_OK_AND_ASSIGN(other_, client::AcquireLease(poold_->address(), request));
  }

  ::accel::testing::ScopedTempDir dir_;
  std::unique_ptr<pool::Poold> poold_;
  Nvml nvml_;
  std::unique_ptr<client::Lease> lease_, other_;
  hal::Buffer buffer_;
};

TEST_F(NvmlTest, ShowsTheDevicesOfTheTenantsLeasesWithTheirMemory) {
  constexpr uint64_t kQuota = 32 << 20, kUsed = 4 << 20;
  ASSERT_NO_FATAL_FAILURE(Lease(kRisk, kQuota, kUsed));
  unsigned int count = 0;
  EXPECT_EQ(nvml_.count(&count), NVML_ERROR_UNINITIALIZED);  // before nvmlInit
  setenv("ACCEL_POOL_TOKEN", kRisk, 1);
  ASSERT_EQ(nvml_.init(), NVML_SUCCESS);
  ASSERT_EQ(nvml_.count(&count), NVML_SUCCESS);
  ASSERT_EQ(count, 1u);
  nvmlDevice_t device = nullptr;
  ASSERT_EQ(nvml_.by_index(0, &device), NVML_SUCCESS);
  char text[96] = {};
  ASSERT_EQ(nvml_.name(device, text, sizeof(text)), NVML_SUCCESS);
  // The device's own name (the remote backend adds where it is).
  EXPECT_TRUE(absl::StartsWith(lease_->devices().at(0).properties().name, text)) << text;
  EXPECT_TRUE(absl::StartsWith(text, "accelpool host device")) << text;
  char small[4] = {};
  EXPECT_EQ(nvml_.name(device, small, sizeof(small)), NVML_ERROR_INSUFFICIENT_SIZE);
  ASSERT_EQ(nvml_.uuid(device, text, sizeof(text)), NVML_SUCCESS);
  EXPECT_TRUE(absl::StartsWith(text, "GPU-")) << text;
  nvmlDevice_t same = nullptr;
  ASSERT_EQ(nvml_.by_uuid(text, &same), NVML_SUCCESS);
  EXPECT_EQ(same, device);
  EXPECT_EQ(nvml_.by_uuid("GPU-none", &same), NVML_ERROR_NOT_FOUND);
  EXPECT_EQ(nvml_.by_index(1, &same), NVML_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(nvml_.count(nullptr), NVML_ERROR_INVALID_ARGUMENT);

  // The node reports use with its heartbeat: within a few seconds.
  nvmlMemory_t memory{};
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(nvml_.memory(device, &memory), NVML_SUCCESS);
    if (memory.used != 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(memory.total, kQuota);
  EXPECT_GE(memory.used, kUsed);
  EXPECT_EQ(memory.free, memory.total - memory.used);
  nvmlMemory_v2_t v2{};
  EXPECT_EQ(nvml_.memory_v2(device, &v2), NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
  v2.version = nvmlMemory_v2;
  ASSERT_EQ(nvml_.memory_v2(device, &v2), NVML_SUCCESS);
  EXPECT_EQ(v2.total, kQuota);
  EXPECT_EQ(v2.reserved, 0u);
  EXPECT_GE(v2.used, kUsed);
  EXPECT_EQ(v2.free, v2.total - v2.used);
  nvmlUtilization_t utilization{};
  EXPECT_EQ(nvml_.utilization(device, &utilization), NVML_ERROR_NOT_SUPPORTED);
  EXPECT_STREQ(nvml_.error(NVML_ERROR_NOT_SUPPORTED), "Not Supported");
  EXPECT_EQ(nvml_.memory(reinterpret_cast<nvmlDevice_t>(&memory), &memory),
            NVML_ERROR_INVALID_ARGUMENT);  // not a handle of this library

  // The lease ends: its device is lost to NVML at the next read.
  buffer_ = hal::Buffer();
  ASSERT_OK(lease_->Release());
  nvmlReturn_t after = NVML_SUCCESS;
  for (int i = 0; i < 30 && after == NVML_SUCCESS; ++i) {  // the next read, within 3 s
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    after = nvml_.memory(device, &memory);
  }
  EXPECT_EQ(after, NVML_ERROR_GPU_IS_LOST);
  EXPECT_EQ(nvml_.name(device, text, sizeof(text)), NVML_ERROR_GPU_IS_LOST);
  EXPECT_EQ(nvml_.shutdown(), NVML_SUCCESS);
  EXPECT_EQ(nvml_.shutdown(), NVML_ERROR_UNINITIALIZED);
}

TEST_F(NvmlTest, EachTenantSeesOnlyItsOwnAndAnOperatorTokenIsRefused) {
  ASSERT_NO_FATAL_FAILURE(Lease(kRisk, 32 << 20, 1 << 20));
  setenv("ACCEL_POOL_TOKEN", kOps, 1);
  ASSERT_EQ(nvml_.init(), NVML_SUCCESS);
  unsigned int count = 99;
  ASSERT_EQ(nvml_.count(&count), NVML_SUCCESS);
  EXPECT_EQ(count, 0u);
  // A lease taken after nvmlInit (a program's cuInit after it) shows up.
  ASSERT_NO_FATAL_FAILURE(LeaseAnother(kOps));
  for (int i = 0; i < 30 && count == 0; ++i) {  // the next read, within 3 s
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_EQ(nvml_.count(&count), NVML_SUCCESS);
  }
  ASSERT_EQ(count, 1u);
  nvmlDevice_t device = nullptr;
  ASSERT_EQ(nvml_.by_index(0, &device), NVML_SUCCESS);
  nvmlMemory_t memory{};
  ASSERT_EQ(nvml_.memory(device, &memory), NVML_SUCCESS);
  EXPECT_EQ(memory.total, 64u << 20);  // its whole device, not risk's fraction
  EXPECT_EQ(nvml_.shutdown(), NVML_SUCCESS);

  // The operator's token sees both tenants' leases: not one tenant's devices.
  setenv("ACCEL_POOL_TOKEN", kOperator, 1);
  EXPECT_EQ(nvml_.init(), NVML_ERROR_NO_PERMISSION);
  EXPECT_EQ(nvml_.count(&count), NVML_ERROR_UNINITIALIZED);
}

TEST_F(NvmlTest, NoPoolIsDriverNotLoadedAndAWrongTokenNoPermission) {
  unsetenv("ACCEL_POOL");
  EXPECT_EQ(nvml_.init(), NVML_ERROR_DRIVER_NOT_LOADED);
  setenv("ACCEL_POOL", poold_->address().c_str(), 1);
  setenv("ACCEL_POOL_TOKEN", "not-a-tenant-token-000000000000", 1);
  EXPECT_EQ(nvml_.init(), NVML_ERROR_NO_PERMISSION);
  unsigned int count = 0;
  EXPECT_EQ(nvml_.count(&count), NVML_ERROR_UNINITIALIZED);
}

accelpool::v1::LeasedDevice* AddDevice(accelpool::v1::LeaseInfo& lease, const std::string& id,
                                       uint64_t quota) {
  accelpool::v1::LeasedDevice* d = lease.add_devices();
  d->mutable_device()->set_id(id);
  d->mutable_device()->set_uuid("1234");
  d->set_memory_quota(quota);
  return d;
}

TEST(LeasedDevicesTest, SharedDevicesAddUpAndALeasesUseSplitsByQuota) {
  std::vector<accelpool::v1::LeaseInfo> leases(3);
  leases[0].set_state("active");
  leases[0].set_memory_in_use(300);
  AddDevice(leases[0], "n/cuda:0", 1000);
  AddDevice(leases[0], "n/cuda:1", 2000);
  leases[1].set_state("active");
  leases[1].set_memory_in_use(50);
  AddDevice(leases[1], "n/cuda:1", 500);
  leases[2].set_state("queued");  // holds nothing yet
  AddDevice(leases[2], "n/cuda:2", 500);
  leases.emplace_back().set_state("active");
  AddDevice(leases.back(), "n/rocm:0", 100)->mutable_device()->clear_uuid();
  const std::vector<LeasedDevice> devices = LeasedDevices(leases);
  ASSERT_GE(devices.size(), 2u);
  EXPECT_EQ(devices[0].id, "n/cuda:0");
  EXPECT_EQ(devices[0].uuid, "GPU-1234");
  EXPECT_EQ(devices[0].total_memory, 1000u);
  EXPECT_EQ(devices[0].used_memory, 100u);
  EXPECT_EQ(devices[1].total_memory, 2500u);
  EXPECT_EQ(devices[1].used_memory, 250u);
  // No UUID of its own: one made from its id, in NVML's form.
  ASSERT_EQ(devices.size(), 3u);
  EXPECT_EQ(devices[2].uuid.size(), 4u + 36u);
  EXPECT_NE(devices[2].uuid, LeasedDevices(leases)[0].uuid);
  EXPECT_EQ(devices[2].uuid, LeasedDevices(leases)[2].uuid);  // stable
}

}  // namespace
}  // namespace accel::nvml
