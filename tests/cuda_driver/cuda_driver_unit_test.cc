// Pieces of accelpool's libcuda.so.1 on their own: MD2 against RFC 1319's
// test vectors (the runtime's integrity check is built on it), the answers
// that are constants, and the device address space's bounds.
#include <sys/mman.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "accel/hal/hal.h"
#include "clients/cuda_driver/device_memory.h"
#include "clients/cuda_driver/runtime_integrity.h"
#include "gtest/gtest.h"
#include "tests/common/status_matchers.h"

namespace accel::cuda_driver {
namespace {

std::string Hex(const std::array<uint8_t, 16>& digest) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

TEST(RuntimeIntegrityTest, Md2MatchesRfc1319) {
  EXPECT_EQ(Hex(Md2("")), "8350e5a3e24c153df2275c9f80692773");
  EXPECT_EQ(Hex(Md2("a")), "32ec01ec4a6dac72c0ab96fb34c0b5d1");
  EXPECT_EQ(Hex(Md2("abc")), "da853b0d3f88d99b30283a69e6ded6bb");
  EXPECT_EQ(Hex(Md2("message digest")), "ab4f496bfb2a530b219ff33031fe06b0");
  EXPECT_EQ(Hex(Md2("abcdefghijklmnopqrstuvwxyz")), "4e8ddff3650292ab5a4108c3aa47940b");
  EXPECT_EQ(Hex(Md2("1234567890123456789012345678901234567890123456789012345678901234567890"
                    "1234567890")),
            "d5976f79d83d3a0dc9806c3c66f3efd8");
}

TEST(RuntimeIntegrityTest, AnswersDependOnEveryInput) {
  IntegrityInput input;
  input.version = 13000;
  EXPECT_EQ(IntegrityAnswer(input)[0], 0x3341181C03CB675Cull);
  input.version = 13001;
  EXPECT_EQ(IntegrityAnswer(input)[0], 0x1841181C03CB675Cull);
  input.version = 13002;
  input.seconds = 1796138093;
  const auto base = IntegrityAnswer(input);
  EXPECT_EQ(IntegrityAnswer(input), base);  // deterministic
  IntegrityInput later = input;
  later.seconds += 1;
  EXPECT_NE(IntegrityAnswer(later), base);
  IntegrityInput with_device = input;
  with_device.devices.push_back({});
  EXPECT_NE(IntegrityAnswer(with_device), base);
}

class DeviceMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hal::RegistryOptions options;
    options.only = {"host"};
    ASSERT_OK_AND_ASSIGN(registry_, hal::Registry::Create(options));
    ASSERT_FALSE(registry_->Devices().empty());
    device_ = registry_->Devices()[0];
  }
  hal::Buffer Allocate(uint64_t size) {
    absl::StatusOr<hal::Buffer> b = device_.Allocate(size);
    EXPECT_OK(b.status());
    return *std::move(b);
  }
  std::unique_ptr<hal::Registry> registry_;
  hal::Device device_;
};

// Addresses nothing in this process uses: a range mapped and given back, as
// a node's device addresses are to the program.
uint64_t FreeAddressRange(uint64_t bytes) {
  void* at = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  EXPECT_NE(at, MAP_FAILED);
  munmap(at, bytes);
  return reinterpret_cast<uint64_t>(at);
}

// Whether the page at `address` is mapped in this process.
bool Mapped(uint64_t address) {
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  void* at = mmap(reinterpret_cast<void*>(address / page * page), page, PROT_NONE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (at == MAP_FAILED) return true;
  munmap(at, page);
  return false;
}

TEST_F(DeviceMemoryTest, AddressesNameOneAllocationAndAnOffsetInIt) {
  DeviceMemory memory;
  const uint64_t a = FreeAddressRange(1 << 20);
  const uint64_t b = a + 1024;  // in the same page: the node packs small allocations
  ASSERT_OK(memory.Add(Allocate(1000), a, 0));
  ASSERT_OK(memory.Add(Allocate(4096), b, 0));
  EXPECT_TRUE(memory.IsDeviceAddress(a));
  EXPECT_TRUE(memory.IsDeviceAddress(b + 4095));
  EXPECT_TRUE(Mapped(b + 4095));  // reserved: no host memory can land there
  EXPECT_FALSE(memory.IsDeviceAddress(reinterpret_cast<uint64_t>(&memory)));
  ASSERT_OK_AND_ASSIGN(DeviceMemory::Range inside, memory.Find(a + 10, 990));
  EXPECT_EQ(inside.view.offset(), 10u);
  EXPECT_EQ(inside.view.size(), 990u);
  EXPECT_STATUS(memory.Find(a + 10, 991), kInvalidArgument);  // runs past the end
  EXPECT_STATUS(memory.Find(a + 1000, 1), kInvalidArgument);  // between the two
  EXPECT_STATUS(memory.Find(a - 1, 1), kInvalidArgument);
  EXPECT_STATUS(memory.Find(b + 10, ~uint64_t{0}), kInvalidArgument);  // no overflow
  ASSERT_TRUE(memory.Containing(b + 4095).has_value());
  EXPECT_EQ(memory.Containing(b + 4095)->base, b);
  EXPECT_FALSE(memory.Containing(b + 4096).has_value());
  EXPECT_STATUS(memory.Remove(a + 1), kInvalidArgument);  // not its start
  ASSERT_OK(memory.Remove(a).status());
  EXPECT_STATUS(memory.Find(a, 1), kInvalidArgument);  // freed
  EXPECT_STATUS(memory.Remove(a), kInvalidArgument);   // twice
  // A freed address is still a device address, never host memory; the
  // node may hand it out again.
  EXPECT_TRUE(memory.IsDeviceAddress(a));
  ASSERT_OK(memory.Add(Allocate(512), a, 0));
  EXPECT_TRUE(memory.Containing(a + 511).has_value());
}

TEST_F(DeviceMemoryTest, AnAddressThatCannotBeTheProgramsIsRefused) {
  DeviceMemory memory;
  // This process's own memory.
  const auto local = std::make_unique<char[]>(1 << 16);
  EXPECT_STATUS(memory.Add(Allocate(64), reinterpret_cast<uint64_t>(local.get()), 0),
                kAlreadyExists);
  EXPECT_FALSE(memory.IsDeviceAddress(reinterpret_cast<uint64_t>(local.get())));
  // Another device's live allocation, wholly or in part.
  const uint64_t a = FreeAddressRange(1 << 20);
  ASSERT_OK(memory.Add(Allocate(8192), a + 4096, 0));
  EXPECT_STATUS(memory.Add(Allocate(64), a + 8192, 1), kAlreadyExists);
  EXPECT_STATUS(memory.Add(Allocate(8192), a, 1), kAlreadyExists);
  EXPECT_EQ(memory.Containing(a + 8192)->device, 0);
  // A range only partly this process's: nothing of it is kept.
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t c = FreeAddressRange(16 * page);
  void* taken = mmap(reinterpret_cast<void*>(c + 8 * page), page, PROT_READ,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  ASSERT_NE(taken, MAP_FAILED);
  EXPECT_STATUS(memory.Add(Allocate(16 * page), c, 0), kAlreadyExists);
  EXPECT_FALSE(memory.IsDeviceAddress(c));
  EXPECT_FALSE(Mapped(c));
  munmap(taken, page);
  EXPECT_STATUS(memory.Add(Allocate(64), 0, 0), kInternal);  // no device has address 0
}

}  // namespace
}  // namespace accel::cuda_driver
