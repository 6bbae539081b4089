// Copies in every direction, fills, sizes 0, 1, odd and 64 MiB, offsets, and
// the bad inputs: out-of-range views, size mismatches, foreign devices.
#include <cstring>
#include <numeric>
#include <vector>

#include "tests/conformance/fixture.h"

namespace accel::conformance {
namespace {

class CopyTest : public ConformanceTest {
 protected:
  static std::vector<std::byte> Pattern(size_t size, uint8_t seed) {
    std::vector<std::byte> data(size);
    for (size_t i = 0; i < size; ++i) data[i] = std::byte(static_cast<uint8_t>(i * 131 + seed));
    return data;
  }
};

const uint64_t kSizes[] = {0, 1, 3, 4097, 1000003, 64ull << 20};

TEST_P(CopyTest, HostToDeviceToHostRoundTrip) {
  for (uint64_t size : kSizes) {
    SCOPED_TRACE(size);
    std::vector<std::byte> in = Pattern(size, 7), out(size);
    ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(std::max<uint64_t>(size, 1)));
    ASSERT_OK_AND_ASSIGN(hal::BufferView v, b.View(0, size));
    ASSERT_OK(device_.CopyToDevice(in, v));
    ASSERT_OK(device_.CopyToHost(v, absl::MakeSpan(out)));
    ASSERT_TRUE(in == out);
  }
}

TEST_P(CopyTest, StreamRoundTripAllSizes) {
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device_.CreateStream());
  for (uint64_t size : kSizes) {
    SCOPED_TRACE(size);
    std::vector<std::byte> in = Pattern(size, 11), out(size);
    ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(std::max<uint64_t>(size, 1)));
    ASSERT_OK_AND_ASSIGN(hal::BufferView v, b.View(0, size));
    ASSERT_OK(stream.CopyToDevice(in, v));
    ASSERT_OK(stream.CopyToHost(v, absl::MakeSpan(out)));
    ASSERT_OK(stream.Synchronize());
    ASSERT_TRUE(in == out);
  }
}

TEST_P(CopyTest, DeviceToDeviceAllSizes) {
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device_.CreateStream());
  for (uint64_t size : kSizes) {
    SCOPED_TRACE(size);
    std::vector<std::byte> in = Pattern(size, 13), out(size);
    ASSERT_OK_AND_ASSIGN(hal::Buffer a, device_.Allocate(std::max<uint64_t>(size, 1)));
    ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(std::max<uint64_t>(size, 1)));
    ASSERT_OK_AND_ASSIGN(hal::BufferView va, a.View(0, size));
    ASSERT_OK_AND_ASSIGN(hal::BufferView vb, b.View(0, size));
    ASSERT_OK(stream.CopyToDevice(in, va));
    ASSERT_OK(stream.Copy(va, vb));
    ASSERT_OK(stream.CopyToHost(vb, absl::MakeSpan(out)));
    ASSERT_OK(stream.Synchronize());
    ASSERT_TRUE(in == out);
  }
}

TEST_P(CopyTest, SynchronousDeviceToDevice) {
  std::vector<std::byte> in = Pattern(12345, 3), out(12345);
  ASSERT_OK_AND_ASSIGN(hal::Buffer a, device_.Allocate(in.size()));
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(in.size()));
  ASSERT_OK(device_.CopyToDevice(in, a));
  ASSERT_OK(device_.Copy(a, b));
  ASSERT_OK(device_.CopyToHost(b, absl::MakeSpan(out)));
  EXPECT_TRUE(in == out);
}

TEST_P(CopyTest, CopiesHonourOffsets) {
  const uint64_t size = 1 << 12;
  std::vector<std::byte> in = Pattern(size, 17), out(size, std::byte{0});
  ASSERT_OK_AND_ASSIGN(hal::Buffer a, device_.Allocate(size));
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(size));
  ASSERT_OK(device_.CopyToDevice(in, a));
  // 333 bytes from offset 7 of a to offset 1001 of b.
  ASSERT_OK_AND_ASSIGN(hal::BufferView src, a.View(7, 333));
  ASSERT_OK_AND_ASSIGN(hal::BufferView dst, b.View(1001, 333));
  ASSERT_OK(device_.Copy(src, dst));
  ASSERT_OK(device_.CopyToHost(b, absl::MakeSpan(out)));
  for (uint64_t i = 0; i < size; ++i) {
    std::byte expected = (i >= 1001 && i < 1334) ? in[i - 1001 + 7] : std::byte{0};
    ASSERT_EQ(out[i], expected) << "at " << i;
  }
  // Host-side offsets: read 5 bytes from offset 1002.
  std::vector<std::byte> five(5);
  ASSERT_OK_AND_ASSIGN(hal::BufferView tail, b.View(1002, 5));
  ASSERT_OK(device_.CopyToHost(tail, absl::MakeSpan(five)));
  EXPECT_EQ(std::memcmp(five.data(), in.data() + 8, 5), 0);
}

TEST_P(CopyTest, WriteIntoMiddleLeavesNeighboursAlone) {
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(64));
  ASSERT_OK(device_.Fill(b, "\x11", 1));
  std::vector<std::byte> in(10, std::byte{0x77}), out(64);
  ASSERT_OK_AND_ASSIGN(hal::BufferView mid, b.View(27, 10));
  ASSERT_OK(device_.CopyToDevice(in, mid));
  ASSERT_OK(device_.CopyToHost(b, absl::MakeSpan(out)));
  for (int i = 0; i < 64; ++i) {
    EXPECT_EQ(out[i], (i >= 27 && i < 37) ? std::byte{0x77} : std::byte{0x11}) << i;
  }
}

TEST_P(CopyTest, FillPatternsOfOneTwoAndFourBytes) {
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(1024));
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device_.CreateStream());
  std::vector<std::byte> out(1024);

  ASSERT_OK(stream.FillU8(b, 0x5a));
  ASSERT_OK(stream.CopyToHost(b, absl::MakeSpan(out)));
  ASSERT_OK(stream.Synchronize());
  for (std::byte v : out) ASSERT_EQ(v, std::byte{0x5a});

  const uint16_t half = 0xbeef;
  ASSERT_OK_AND_ASSIGN(hal::BufferView v2, b.View(2, 1000));
  ASSERT_OK(stream.Fill(v2, &half, 2));
  ASSERT_OK(stream.CopyToHost(b, absl::MakeSpan(out)));
  ASSERT_OK(stream.Synchronize());
  EXPECT_EQ(out[0], std::byte{0x5a});
  for (int i = 2; i < 1002; i += 2) {
    uint16_t got;
    std::memcpy(&got, &out[i], 2);
    ASSERT_EQ(got, half) << i;
  }
  EXPECT_EQ(out[1002], std::byte{0x5a});

  ASSERT_OK_AND_ASSIGN(hal::BufferView v4, b.View(16, 64));
  ASSERT_OK(stream.FillU32(v4, 0xdeadbeef));
  ASSERT_OK(stream.CopyToHost(b, absl::MakeSpan(out)));
  ASSERT_OK(stream.Synchronize());
  for (int i = 16; i < 80; i += 4) {
    uint32_t got;
    std::memcpy(&got, &out[i], 4);
    ASSERT_EQ(got, 0xdeadbeefu) << i;
  }
}

TEST_P(CopyTest, FillRejectsBadPatterns) {
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(30));
  const uint64_t eight = 0;
  EXPECT_STATUS(device_.Fill(b, &eight, 8), kInvalidArgument);
  EXPECT_STATUS(device_.Fill(b, &eight, 3), kInvalidArgument);
  EXPECT_STATUS(device_.Fill(b, &eight, 0), kInvalidArgument);
  EXPECT_STATUS(device_.Fill(b, nullptr, 1), kInvalidArgument);
  EXPECT_STATUS(device_.Fill(b, &eight, 4), kInvalidArgument);  // 30 is not a multiple of 4
  EXPECT_OK(device_.Fill(b, &eight, 2));
}

TEST_P(CopyTest, HostSizeMustMatchView) {
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(100));
  std::vector<std::byte> small(99), large(101);
  EXPECT_STATUS(device_.CopyToDevice(small, b), kInvalidArgument);
  EXPECT_STATUS(device_.CopyToDevice(large, b), kInvalidArgument);
  EXPECT_STATUS(device_.CopyToHost(b, absl::MakeSpan(small)), kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device_.CreateStream());
  EXPECT_STATUS(stream.CopyToHost(b, absl::MakeSpan(large)), kInvalidArgument);
  EXPECT_OK(stream.Synchronize());  // validation errors are not sticky
}

TEST_P(CopyTest, DeviceCopySizesMustMatch) {
  ASSERT_OK_AND_ASSIGN(hal::Buffer a, device_.Allocate(100));
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(50));
  EXPECT_STATUS(device_.Copy(a, b), kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(hal::BufferView half, a.View(50, 50));
  EXPECT_OK(device_.Copy(half, b));
}

TEST_P(CopyTest, EmptyBufferHandlesAreInvalid) {
  ASSERT_OK_AND_ASSIGN(hal::Buffer a, device_.Allocate(16));
  hal::Buffer none;
  std::vector<std::byte> host(16);
  EXPECT_STATUS(device_.CopyToDevice({}, hal::BufferView()), kInvalidArgument);
  EXPECT_STATUS(device_.Copy(none, a), kInvalidArgument);
  EXPECT_STATUS(device_.Copy(a, none), kInvalidArgument);
  EXPECT_STATUS(device_.CopyToHost(none, absl::MakeSpan(host).subspan(0, 0)), kInvalidArgument);
}

TEST_P(CopyTest, ForeignDeviceBufferIsInvalidArgument) {
  std::optional<hal::Device> other = SecondDevice();
  if (!other) GTEST_SKIP() << GetParam() << " has one device; the check needs two";
  ASSERT_OK_AND_ASSIGN(hal::Buffer mine, device_.Allocate(64));
  ASSERT_OK_AND_ASSIGN(hal::Buffer theirs, other->Allocate(64));
  std::vector<std::byte> host(64);
  EXPECT_STATUS(device_.CopyToDevice(host, theirs), kInvalidArgument);
  EXPECT_STATUS(device_.CopyToHost(theirs, absl::MakeSpan(host)), kInvalidArgument);
  EXPECT_STATUS(device_.Copy(mine, theirs), kInvalidArgument);
  EXPECT_STATUS(device_.Fill(theirs, "\0", 1), kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device_.CreateStream());
  EXPECT_STATUS(stream.Copy(theirs, mine), kInvalidArgument);
  // The other device's own calls still work.
  EXPECT_OK(other->CopyToHost(theirs, absl::MakeSpan(host)));
}

TEST_P(CopyTest, StreamCopiesAreAsynchronousButOrdered) {
  // Queue a large upload, overwrite part of it, read it back: all in order.
  const uint64_t size = 16 << 20;
  std::vector<std::byte> in = Pattern(size, 23), out(size);
  std::vector<std::byte> patch(4096, std::byte{0xee});
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(size));
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device_.CreateStream());
  ASSERT_OK_AND_ASSIGN(hal::BufferView head, b.View(0, patch.size()));
  ASSERT_OK(stream.CopyToDevice(in, b));
  ASSERT_OK(stream.CopyToDevice(patch, head));
  ASSERT_OK(stream.CopyToHost(b, absl::MakeSpan(out)));
  ASSERT_OK(stream.Synchronize());
  std::memcpy(in.data(), patch.data(), patch.size());
  EXPECT_TRUE(in == out);
}

ACCEL_CONFORMANCE_SUITE(CopyTest);

}  // namespace
}  // namespace accel::conformance
