// Enumeration, device properties and registry look-ups.
#include <set>

#include "tests/conformance/fixture.h"

namespace accel::conformance {
namespace {

class DeviceTest : public ConformanceTest {};

TEST_P(DeviceTest, BackendListsItsDevices) {
  EXPECT_EQ(backend_.name(), GetParam());
  EXPECT_TRUE(backend_.available());
  EXPECT_FALSE(backend_.devices().empty());
  EXPECT_EQ(backend_.abi_version().substr(0, 2), "1.");
  EXPECT_NE(backend_.library_path().find("libaccel_backend_" + GetParam() + ".so"),
            std::string::npos);
}

TEST_P(DeviceTest, PropertiesAreComplete) {
  for (size_t i = 0; i < backend_.devices().size(); ++i) {
    const hal::DeviceProperties& p = backend_.devices()[i].properties();
    EXPECT_EQ(p.backend, GetParam());
    EXPECT_EQ(p.index, i);
    EXPECT_EQ(p.id, GetParam() + ":" + std::to_string(i));
    EXPECT_FALSE(p.name.empty());
    EXPECT_FALSE(p.vendor.empty());
    EXPECT_FALSE(p.arch.empty());
    EXPECT_GT(p.total_memory, 0u);
    EXPECT_GT(p.compute_units, 0u);
    EXPECT_GE(p.max_threads_per_block, 64u);
    EXPECT_GE(p.max_grid.x, 65535u);
    EXPECT_GE(p.max_block.x, 64u);
    EXPECT_GE(p.numa_node, -1);
  }
}

// 8-4-4-4-12 lower-case hex digits.
bool IsUuid(const std::string& u) {
  if (u.size() != 36) return false;
  for (size_t i = 0; i < u.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    const char c = u[i];
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

TEST_P(DeviceTest, UuidsAreWellFormedAndUnique) {
  std::set<std::string> seen;
  for (const hal::Device& d : backend_.devices()) {
    const std::string& u = d.properties().uuid;
    if (u.empty()) continue;  // "where known"
    EXPECT_TRUE(IsUuid(u)) << u;
    EXPECT_TRUE(seen.insert(u).second) << "duplicate UUID " << u;
  }
}

TEST_P(DeviceTest, MemoryInfoMatchesProperties) {
  ASSERT_OK_AND_ASSIGN(hal::MemoryInfo info, device_.GetMemoryInfo());
  EXPECT_EQ(info.total_bytes, device_.properties().total_memory);
  EXPECT_LE(info.free_bytes, info.total_bytes);
  EXPECT_GT(info.free_bytes, 0u);
}

TEST_P(DeviceTest, RegistryFindsDeviceById) {
  ASSERT_OK_AND_ASSIGN(hal::Device found, hal::Registry::Default().GetDevice(device_.id()));
  EXPECT_EQ(found, device_);
  ASSERT_OK_AND_ASSIGN(hal::Device first, hal::Registry::Default().GetDevice("any"));
  EXPECT_TRUE(first.valid());
}

TEST_P(DeviceTest, RegistryRejectsUnknownDevices) {
  EXPECT_STATUS(hal::Registry::Default().GetDevice("no-such-backend:0"), kNotFound);
  EXPECT_STATUS(hal::Registry::Default().GetDevice(GetParam() + ":9999"), kNotFound);
  EXPECT_STATUS(hal::Registry::Default().GetDevice(GetParam() + ":x"), kInvalidArgument);
  EXPECT_STATUS(hal::Registry::Default().GetBackend("no-such-backend"), kNotFound);
}

TEST_P(DeviceTest, EmptyHandlesAreRejected) {
  hal::Device none;
  EXPECT_FALSE(none.valid());
  EXPECT_STATUS(none.Allocate(16), kInvalidArgument);
  EXPECT_STATUS(none.CreateStream(), kInvalidArgument);
  EXPECT_STATUS(none.CreateEvent(), kInvalidArgument);
  EXPECT_STATUS(none.GetMemoryInfo(), kInvalidArgument);
  EXPECT_STATUS(none.LoadModule(bundle_), kInvalidArgument);
  hal::Stream stream;
  EXPECT_STATUS(stream.Synchronize(), kInvalidArgument);
  hal::Event event;
  EXPECT_STATUS(event.Synchronize(), kInvalidArgument);
  hal::Buffer buffer;
  EXPECT_STATUS(buffer.View(0, 0), kInvalidArgument);
  EXPECT_STATUS(buffer.Free(), kInvalidArgument);
}

ACCEL_CONFORMANCE_SUITE(DeviceTest);

}  // namespace
}  // namespace accel::conformance
