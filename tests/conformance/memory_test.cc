// Allocation, capacity accounting, out-of-memory and freed buffers.
#include <vector>

#include "accel/hal/device_address.h"
#include "tests/conformance/fixture.h"

namespace accel::conformance {
namespace {

class MemoryTest : public ConformanceTest {};

TEST_P(MemoryTest, AllocateReportsSizeAndDevice) {
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(4096));
  EXPECT_TRUE(b.valid());
  EXPECT_TRUE(b.alive());
  EXPECT_EQ(b.size(), 4096u);
  EXPECT_EQ(b.device(), device_);
  EXPECT_EQ(b.All().size(), 4096u);
  EXPECT_EQ(b.All().offset(), 0u);
}

TEST_P(MemoryTest, ZeroByteAllocationIsInvalid) {
  EXPECT_STATUS(device_.Allocate(0), kInvalidArgument);
}

TEST_P(MemoryTest, AllocationsAreZeroFilled) {
  const uint64_t size = 1 << 16;
  {
    ASSERT_OK_AND_ASSIGN(hal::Buffer dirty, device_.Allocate(size));
    ASSERT_OK(device_.Fill(dirty, "\xAB", 1));
  }
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(size));
  std::vector<std::byte> host(size, std::byte{0x55});
  ASSERT_OK(device_.CopyToHost(b, absl::MakeSpan(host)));
  for (std::byte v : host) ASSERT_EQ(v, std::byte{0});
}

TEST_P(MemoryTest, CapacityAccountingIsExact) {
  ASSERT_OK_AND_ASSIGN(hal::MemoryInfo before, device_.GetMemoryInfo());
  const uint64_t size = 8 << 20;
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(size));
  ASSERT_OK_AND_ASSIGN(hal::MemoryInfo during, device_.GetMemoryInfo());
  EXPECT_LE(during.free_bytes + size, before.free_bytes + (before.free_bytes / 100))
      << "allocation not accounted";
  ASSERT_OK(b.Free());
  ASSERT_OK_AND_ASSIGN(hal::MemoryInfo after, device_.GetMemoryInfo());
  EXPECT_GE(after.free_bytes + (before.free_bytes / 100), before.free_bytes)
      << "free not accounted";
}

TEST_P(MemoryTest, DroppingTheLastHandleFreesMemory) {
  ASSERT_OK_AND_ASSIGN(hal::MemoryInfo before, device_.GetMemoryInfo());
  {
    ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(4 << 20));
    hal::Buffer copy = b;  // shares the allocation
  }
  ASSERT_OK_AND_ASSIGN(hal::MemoryInfo after, device_.GetMemoryInfo());
  EXPECT_GE(after.free_bytes + (before.free_bytes / 100), before.free_bytes);
}

TEST_P(MemoryTest, AllocationBeyondCapacityIsResourceExhausted) {
  const uint64_t total = device_.properties().total_memory;
  EXPECT_STATUS(device_.Allocate(total + 1), kResourceExhausted);
  EXPECT_STATUS(device_.Allocate(~uint64_t{0}), kResourceExhausted);
  // The device still serves a normal request afterwards.
  EXPECT_OK(device_.Allocate(4096));
}

TEST_P(MemoryTest, FillingTheDeviceThenFreeingRecovers) {
  ASSERT_OK_AND_ASSIGN(hal::MemoryInfo info, device_.GetMemoryInfo());
  if (info.free_bytes > (4ull << 30)) GTEST_SKIP() << "device too large to fill in a test";
  std::vector<hal::Buffer> held;
  const uint64_t chunk = std::max<uint64_t>(info.total_bytes / 8, 1);
  for (int i = 0; i < 64; ++i) {
    absl::StatusOr<hal::Buffer> b = device_.Allocate(chunk);
    if (!b.ok()) {
      EXPECT_STATUS(b, kResourceExhausted);
      break;
    }
    held.push_back(*b);
  }
  EXPECT_STATUS(device_.Allocate(chunk), kResourceExhausted);
  held.clear();
  EXPECT_OK(device_.Allocate(chunk));
}

TEST_P(MemoryTest, DoubleFreeIsFailedPrecondition) {
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(64));
  ASSERT_OK(b.Free());
  EXPECT_FALSE(b.alive());
  EXPECT_STATUS(b.Free(), kFailedPrecondition);
}

TEST_P(MemoryTest, UseAfterFreeIsFailedPrecondition) {
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(64));
  ASSERT_OK_AND_ASSIGN(hal::Buffer other, device_.Allocate(64));
  hal::Buffer alias = b;
  ASSERT_OK(b.Free());
  std::vector<std::byte> host(64);
  EXPECT_STATUS(device_.CopyToDevice(host, alias), kFailedPrecondition);
  EXPECT_STATUS(device_.CopyToHost(alias, absl::MakeSpan(host)), kFailedPrecondition);
  EXPECT_STATUS(device_.Copy(alias, other), kFailedPrecondition);
  EXPECT_STATUS(device_.Copy(other, alias), kFailedPrecondition);
  EXPECT_STATUS(device_.Fill(alias, "\0", 1), kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device_.CreateStream());
  EXPECT_STATUS(stream.CopyToHost(alias, absl::MakeSpan(host)), kFailedPrecondition);
  EXPECT_STATUS(
      stream.Launch(KernelNamed("fill"), {{1, 1, 1}, {16, 1, 1}, 0}, {alias, 1.0f, uint32_t{16}}),
      kFailedPrecondition);
}

TEST_P(MemoryTest, FreeWhileWorkIsQueuedIsSafe) {
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device_.CreateStream());
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(1 << 20));
  const uint32_t n = (1 << 20) / 4;
  ASSERT_OK(stream.Launch(KernelNamed("spin"), {{1, 1, 1}, {1, 1, 1}, 0}, {uint64_t{20000}}));
  ASSERT_OK(
      stream.Launch(KernelNamed("fill"), {{Blocks(n, 256), 1, 1}, {256, 1, 1}, 0}, {b, 3.0f, n}));
  ASSERT_OK(b.Free());
  EXPECT_OK(stream.Synchronize());
}

TEST_P(MemoryTest, ViewsStayInsideTheirBuffer) {
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(100));
  EXPECT_OK(b.View(0, 100));
  EXPECT_OK(b.View(100, 0));
  EXPECT_OK(b.View(99, 1));
  EXPECT_STATUS(b.View(0, 101), kInvalidArgument);
  EXPECT_STATUS(b.View(101, 0), kInvalidArgument);
  EXPECT_STATUS(b.View(50, 51), kInvalidArgument);
  EXPECT_STATUS(b.View(~uint64_t{0}, 2), kInvalidArgument);  // offset + size overflows
  EXPECT_STATUS(b.View(1, ~uint64_t{0}), kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(hal::BufferView v, b.View(10, 50));
  ASSERT_OK_AND_ASSIGN(hal::BufferView sub, v.Subview(5, 45));
  EXPECT_EQ(sub.offset(), 15u);
  EXPECT_EQ(sub.size(), 45u);
  EXPECT_STATUS(v.Subview(5, 46), kInvalidArgument);
}

TEST_P(MemoryTest, AMappedViewIsTheBuffersOwnBytes) {
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(4096));
  ASSERT_OK_AND_ASSIGN(hal::BufferView middle, b.View(1024, 16));
  absl::StatusOr<absl::Span<std::byte>> mapped = middle.MapToHost();
  if (absl::IsUnimplemented(mapped.status())) {
    GTEST_SKIP() << GetParam() << ": " << mapped.status().message();
  }
  ASSERT_OK(mapped.status());
  ASSERT_EQ(mapped->size(), 16u);
  ASSERT_OK(device_.Fill(b, "\x5a", 1));
  EXPECT_EQ((*mapped)[0], std::byte{0x5a});  // the device's writes show through it
  (*mapped)[3] = std::byte{0x11};            // and its own writes reach the device
  std::vector<uint8_t> back(4096);
  ASSERT_OK(device_.CopyToHost(b, hal::AsWritableBytes(absl::MakeSpan(back))));
  EXPECT_EQ(back[1024 + 3], 0x11);
  EXPECT_EQ(back[1024 + 2], 0x5a);
  ASSERT_OK(b.Free());
  EXPECT_STATUS(middle.MapToHost().status(), kFailedPrecondition);
}

TEST_P(MemoryTest, EachBufferHasItsOwnStableDeviceAddress) {
  ASSERT_OK_AND_ASSIGN(hal::Buffer a, device_.Allocate(4096));
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(100));
  absl::StatusOr<uint64_t> at_a = hal::DeviceAddressOf(a);
  if (absl::IsUnimplemented(at_a.status())) {
    GTEST_SKIP() << GetParam() << ": " << at_a.status().message();
  }
  ASSERT_OK(at_a.status());
  ASSERT_OK_AND_ASSIGN(uint64_t at_b, hal::DeviceAddressOf(b));
  EXPECT_NE(*at_a, 0u);
  EXPECT_NE(at_b, 0u);
  EXPECT_TRUE(*at_a + a.size() <= at_b || at_b + b.size() <= *at_a)  // no overlap
      << std::hex << *at_a << " and " << at_b;
  EXPECT_EQ(hal::DeviceAddressOf(a).value_or(0), *at_a);  // stable
  ASSERT_OK_AND_ASSIGN(hal::BufferView middle, a.View(1000, 24));
  EXPECT_EQ(hal::DeviceAddressOf(middle).value_or(0), *at_a + 1000);
  // Where the host addresses the device's memory, it is the same memory.
  if (absl::StatusOr<absl::Span<std::byte>> mapped = a.All().MapToHost(); mapped.ok()) {
    EXPECT_EQ(*at_a, reinterpret_cast<uint64_t>(mapped->data()));
  }
  ASSERT_OK(a.Free());
  EXPECT_STATUS(hal::DeviceAddressOf(middle).status(), kFailedPrecondition);
  EXPECT_STATUS(hal::DeviceAddressOf(hal::Buffer()).status(), kInvalidArgument);
}

TEST_P(MemoryTest, ManySmallAllocations) {
  std::vector<hal::Buffer> buffers;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(1 + i % 97));
    buffers.push_back(b);
  }
  for (size_t i = 0; i < buffers.size(); i += 2) ASSERT_OK(buffers[i].Free());
}

ACCEL_CONFORMANCE_SUITE(MemoryTest);

}  // namespace
}  // namespace accel::conformance
