// Streams and events: ordering, asynchrony, cross-stream waits, timing and
// sticky errors.
#include <algorithm>
#include <thread>
#include <vector>

#include "tests/common/thread_count.h"
#include "tests/conformance/fixture.h"

namespace accel::conformance {
namespace {

class StreamTest : public ConformanceTest {
 protected:
  hal::LaunchConfig Linear(uint32_t n) { return {{Blocks(n, 128), 1, 1}, {128, 1, 1}, 0}; }
  hal::LaunchConfig One() { return {{1, 1, 1}, {1, 1, 1}, 0}; }
};

TEST_P(StreamTest, ThousandQueuedOperationsRunInOrder) {
  // x = x * 3 + i for i in 0..999, interleaved with copies: any reordering
  // changes the result.
  const uint32_t n = 64;
  ASSERT_OK_AND_ASSIGN(hal::Buffer x, device_.Allocate(n * 4));
  ASSERT_OK_AND_ASSIGN(hal::Buffer snapshot, device_.Allocate(n * 4));
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device_.CreateStream());
  hal::Kernel affine = KernelNamed("affine_u32");
  std::vector<uint32_t> init(n);
  for (uint32_t i = 0; i < n; ++i) init[i] = i;
  ASSERT_OK(stream.CopyToDevice(hal::AsBytes(absl::MakeConstSpan(init)), x));
  uint32_t mid_step = 500;
  for (uint32_t step = 0; step < 1000; ++step) {
    ASSERT_OK(stream.Launch(affine, Linear(n), {x, uint32_t{3}, step, n}));
    if (step == mid_step) ASSERT_OK(stream.Copy(x, snapshot));
  }
  std::vector<uint32_t> out(n), mid(n);
  ASSERT_OK(stream.CopyToHost(x, hal::AsWritableBytes(absl::MakeSpan(out))));
  ASSERT_OK(stream.CopyToHost(snapshot, hal::AsWritableBytes(absl::MakeSpan(mid))));
  ASSERT_OK(stream.Synchronize());
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t v = i, at_mid = 0;
    for (uint32_t step = 0; step < 1000; ++step) {
      v = v * 3 + step;
      if (step == mid_step) at_mid = v;
    }
    ASSERT_EQ(out[i], v) << i;
    ASSERT_EQ(mid[i], at_mid) << i;
  }
}

TEST_P(StreamTest, LaunchReturnsBeforeTheWorkIsDone) {
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device_.CreateStream());
  ASSERT_OK_AND_ASSIGN(hal::Event done, device_.CreateEvent());
  ASSERT_OK(stream.Launch(KernelNamed("spin"), One(), {uint64_t{300000}}));  // 300 ms
  ASSERT_OK(stream.Record(done));
  ASSERT_OK_AND_ASSIGN(bool complete, done.IsComplete());
  EXPECT_FALSE(complete) << "a 300 ms kernel finished before Launch returned";
  ASSERT_OK(done.Synchronize());
  ASSERT_OK_AND_ASSIGN(complete, done.IsComplete());
  EXPECT_TRUE(complete);
}

TEST_P(StreamTest, CrossStreamEventWait) {
  const uint32_t n = 1 << 16;
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(n * 4));
  ASSERT_OK_AND_ASSIGN(hal::Stream producer, device_.CreateStream());
  ASSERT_OK_AND_ASSIGN(hal::Stream consumer, device_.CreateStream());
  ASSERT_OK_AND_ASSIGN(hal::Event ready, device_.CreateEvent());
  ASSERT_OK(producer.Launch(KernelNamed("spin"), One(), {uint64_t{50000}}));
  ASSERT_OK(producer.Launch(KernelNamed("fill"), Linear(n), {b, 4.5f, n}));
  ASSERT_OK(producer.Record(ready));
  ASSERT_OK(consumer.Wait(ready));
  std::vector<float> out(n);
  ASSERT_OK(consumer.CopyToHost(b, hal::AsWritableBytes(absl::MakeSpan(out))));
  ASSERT_OK(consumer.Synchronize());
  for (float v : out) ASSERT_EQ(v, 4.5f);
}

TEST_P(StreamTest, WaitOnNeverRecordedEventDoesNotBlock) {
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device_.CreateStream());
  ASSERT_OK_AND_ASSIGN(hal::Event never, device_.CreateEvent());
  ASSERT_OK(stream.Wait(never));
  EXPECT_OK(stream.Synchronize());
  EXPECT_OK(never.Synchronize());
  ASSERT_OK_AND_ASSIGN(bool complete, never.IsComplete());
  EXPECT_TRUE(complete);
}

TEST_P(StreamTest, EventTimingMeasuresTheWork) {
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device_.CreateStream());
  ASSERT_OK_AND_ASSIGN(hal::Event start, device_.CreateEvent());
  ASSERT_OK_AND_ASSIGN(hal::Event end, device_.CreateEvent());
  ASSERT_OK(stream.Record(start));
  ASSERT_OK(stream.Launch(KernelNamed("spin"), One(), {uint64_t{20000}}));  // 20 ms
  ASSERT_OK(stream.Record(end));
  ASSERT_OK(end.Synchronize());
  ASSERT_OK_AND_ASSIGN(float ms, hal::Event::ElapsedMilliseconds(start, end));
  EXPECT_GE(ms, 19.0f);  // the kernel spins at least 20 ms; no upper bound on a loaded host
}

TEST_P(StreamTest, ElapsedTimeNeedsCompletedEvents) {
  ASSERT_OK_AND_ASSIGN(hal::Event a, device_.CreateEvent());
  ASSERT_OK_AND_ASSIGN(hal::Event b, device_.CreateEvent());
  EXPECT_STATUS(hal::Event::ElapsedMilliseconds(a, b), kFailedPrecondition);
  EXPECT_STATUS(hal::Event::ElapsedMilliseconds(a, hal::Event()), kInvalidArgument);
}

TEST_P(StreamTest, EventReRecordTracksTheLatestWork) {
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device_.CreateStream());
  ASSERT_OK_AND_ASSIGN(hal::Event e, device_.CreateEvent());
  ASSERT_OK(stream.Record(e));
  ASSERT_OK(e.Synchronize());
  ASSERT_OK(stream.Launch(KernelNamed("spin"), One(), {uint64_t{200000}}));
  ASSERT_OK(stream.Record(e));
  ASSERT_OK_AND_ASSIGN(bool complete, e.IsComplete());
  EXPECT_FALSE(complete);
  ASSERT_OK(e.Synchronize());
  ASSERT_OK_AND_ASSIGN(complete, e.IsComplete());
  EXPECT_TRUE(complete);
}

TEST_P(StreamTest, KernelFailureIsStickyAndReportedAtSynchronize) {
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device_.CreateStream());
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(64));
  // 9 = FAILED_PRECONDITION: the kernel's code comes back as the status code.
  ASSERT_OK(stream.Launch(KernelNamed("fail_with"), One(), {uint32_t{9}}));
  absl::Status sync = stream.Synchronize();
  EXPECT_STATUS(sync, kFailedPrecondition);
  EXPECT_NE(sync.message().find("fail_with"), std::string::npos) << sync;
  // Sticky: later work is refused with the same error, and so is the next sync.
  EXPECT_STATUS(stream.Fill(b, "\1", 1), kFailedPrecondition);
  EXPECT_STATUS(stream.Synchronize(), kFailedPrecondition);
  // Other streams and the device keep working.
  ASSERT_OK_AND_ASSIGN(hal::Stream healthy, device_.CreateStream());
  EXPECT_OK(healthy.Fill(b, "\1", 1));
  EXPECT_OK(healthy.Synchronize());
  EXPECT_OK(device_.Fill(b, "\2", 1));
}

TEST_P(StreamTest, WorkQueuedAfterAFailureIsSkipped) {
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device_.CreateStream());
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(4));
  ASSERT_OK_AND_ASSIGN(hal::Event after, device_.CreateEvent());
  ASSERT_OK(stream.Launch(KernelNamed("spin"), One(), {uint64_t{20000}}));
  ASSERT_OK(stream.Launch(KernelNamed("fail_with"), One(), {uint32_t{13}}));
  // Queued before the failure is known: accepted now, skipped later.
  ASSERT_OK(stream.Launch(KernelNamed("fill"), One(), {b, 1.0f, uint32_t{1}}));
  ASSERT_OK(stream.Record(after));
  EXPECT_STATUS(stream.Synchronize(), kInternal);
  EXPECT_OK(after.Synchronize());  // waiters on a failed stream are released
  float value = -1;
  ASSERT_OK(device_.CopyToHost(b, hal::AsWritableBytes(absl::MakeSpan(&value, 1))));
  EXPECT_EQ(value, 0.0f) << "work after the failure ran";
}

TEST_P(StreamTest, EventsOfAnotherDeviceAreRejected) {
  std::optional<hal::Device> other = SecondDevice();
  if (!other) GTEST_SKIP() << GetParam() << " has one device; the check needs two";
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device_.CreateStream());
  ASSERT_OK_AND_ASSIGN(hal::Event foreign, other->CreateEvent());
  EXPECT_STATUS(stream.Record(foreign), kInvalidArgument);
  EXPECT_STATUS(stream.Wait(foreign), kInvalidArgument);
}

TEST_P(StreamTest, ManyStreamsAtOnce) {
  std::vector<hal::Stream> streams;
  std::vector<hal::Buffer> buffers;
  for (int i = 0; i < 32; ++i) {
    ASSERT_OK_AND_ASSIGN(hal::Stream s, device_.CreateStream());
    ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(4));
    ASSERT_OK(s.FillU32(b, static_cast<uint32_t>(i)));
    streams.push_back(s);
    buffers.push_back(b);
  }
  for (int i = 0; i < 32; ++i) {
    uint32_t v = 0;
    ASSERT_OK(streams[i].CopyToHost(buffers[i], hal::AsWritableBytes(absl::MakeSpan(&v, 1))));
    ASSERT_OK(streams[i].Synchronize());
    EXPECT_EQ(v, static_cast<uint32_t>(i));
  }
}

// The recorder's work is long enough to go round the host backend's shared
// stream threads more than once: streams waiting on its event must not hold
// those threads meanwhile, or the record would never run.
TEST_P(StreamTest, StreamsWaitingOnAnEventDoNotHoldUpItsRecord) {
  constexpr int kWaiters = 64, kFills = 300;
  ASSERT_OK_AND_ASSIGN(hal::Buffer flag, device_.Allocate(4));
  ASSERT_OK_AND_ASSIGN(hal::Event done, device_.CreateEvent());
  ASSERT_OK_AND_ASSIGN(hal::Stream recorder, device_.CreateStream());
  ASSERT_OK(recorder.Launch(KernelNamed("spin"), One(), {uint64_t{20000}}));
  for (uint32_t i = 1; i <= kFills; ++i) ASSERT_OK(recorder.FillU32(flag, i));
  ASSERT_OK(recorder.Record(done));
  std::vector<hal::Stream> waiters;
  std::vector<hal::Buffer> seen;
  for (int i = 0; i < kWaiters; ++i) {
    ASSERT_OK_AND_ASSIGN(hal::Stream s, device_.CreateStream());
    ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(4));
    ASSERT_OK(s.Wait(done));
    ASSERT_OK(s.Copy(flag, b));
    waiters.push_back(s);
    seen.push_back(b);
  }
  for (int i = 0; i < kWaiters; ++i) {
    uint32_t v = 0;
    ASSERT_OK(waiters[i].CopyToHost(seen[i], hal::AsWritableBytes(absl::MakeSpan(&v, 1))));
    ASSERT_OK(waiters[i].Synchronize());
    EXPECT_EQ(v, static_cast<uint32_t>(kFills)) << "waiter " << i;
  }
}

TEST_P(StreamTest, HostStreamsShareAFewThreads) {
  if (GetParam() != "host") {
    GTEST_SKIP() << "the bound is the host backend's own; " << GetParam()
                 << "'s threads belong to its runtime";
  }
  const size_t before = testing::ThreadCount();
  std::vector<hal::Stream> streams;
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(4));
  for (int i = 0; i < 256; ++i) {
    ASSERT_OK_AND_ASSIGN(hal::Stream s, device_.CreateStream());
    ASSERT_OK(s.Launch(KernelNamed("spin"), One(), {uint64_t{1000}}));
    ASSERT_OK(s.FillU32(b, static_cast<uint32_t>(i)));
    streams.push_back(s);
  }
  const size_t during = testing::ThreadCount();
  for (hal::Stream& s : streams) ASSERT_OK(s.Synchronize());
  const size_t bound = std::max(8u, 2 * std::thread::hardware_concurrency());
  EXPECT_LE(during, before + bound) << "256 busy streams took " << during - before << " threads";
}

TEST_P(StreamTest, DestroyingAStreamWaitsForItsWork) {
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(4));
  {
    ASSERT_OK_AND_ASSIGN(hal::Stream stream, device_.CreateStream());
    ASSERT_OK(stream.Launch(KernelNamed("spin"), One(), {uint64_t{30000}}));
    ASSERT_OK(stream.FillU32(b, 77));
  }
  uint32_t v = 0;
  ASSERT_OK(device_.CopyToHost(b, hal::AsWritableBytes(absl::MakeSpan(&v, 1))));
  EXPECT_EQ(v, 77u);
}

ACCEL_CONFORMANCE_SUITE(StreamTest);

}  // namespace
}  // namespace accel::conformance
