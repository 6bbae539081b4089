// Pieces of accelpool's libcuda.so.1 on their own: MD2 against RFC 1319's
// test vectors (the runtime's integrity check is built on it), the answers
// that are constants, and the device address space's bounds.
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

TEST_F(DeviceMemoryTest, AddressesNameOneAllocationAndAnOffsetInIt) {
  DeviceMemory memory;
  ASSERT_OK_AND_ASSIGN(uint64_t a, memory.Add(Allocate(1000), 0));
  ASSERT_OK_AND_ASSIGN(uint64_t b, memory.Add(Allocate(4096), 0));
  EXPECT_EQ(a % 512, 0u);
  EXPECT_GE(b, a + 1000);
  EXPECT_TRUE(memory.IsDeviceAddress(a));
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
}

}  // namespace
}  // namespace accel::cuda_driver
