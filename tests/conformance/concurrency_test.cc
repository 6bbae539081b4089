// Concurrent use of one device from 8 threads.
#include <atomic>
#include <thread>
#include <vector>

#include "tests/conformance/fixture.h"

namespace accel::conformance {
namespace {

class ConcurrencyTest : public ConformanceTest {};

constexpr int kThreads = 8;

// Runs body(thread index) on kThreads threads; returns the first failure.
template <typename F>
absl::Status RunOnThreads(F body) {
  std::vector<absl::Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back([&, t] { results[t] = body(t); });
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : results) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

TEST_P(ConcurrencyTest, EightThreadsWithOwnStreams) {
  hal::Kernel saxpy = KernelNamed("saxpy");
  ASSERT_OK(RunOnThreads([&](int t) -> absl::Status {
    const uint32_t n = 20000;
    absl::StatusOr<hal::Stream> s = device_.CreateStream();
    if (!s.ok()) return s.status();
    for (int round = 0; round < 10; ++round) {
      std::vector<float> x(n, static_cast<float>(t)), y(n, static_cast<float>(round)), out(n);
      absl::StatusOr<hal::Buffer> dx = device_.Allocate(n * 4);
      absl::StatusOr<hal::Buffer> dy = device_.Allocate(n * 4);
      if (!dx.ok()) return dx.status();
      if (!dy.ok()) return dy.status();
      absl::Status st = s->CopyToDevice(hal::AsBytes(absl::MakeConstSpan(x)), *dx);
      if (st.ok()) st = s->CopyToDevice(hal::AsBytes(absl::MakeConstSpan(y)), *dy);
      if (st.ok())
        st = s->Launch(saxpy, {{Blocks(n, 256), 1, 1}, {256, 1, 1}, 0}, {*dx, *dy, 2.0f, n});
      if (st.ok()) st = s->CopyToHost(*dy, hal::AsWritableBytes(absl::MakeSpan(out)));
      if (st.ok()) st = s->Synchronize();
      if (!st.ok()) return st;
      for (float v : out) {
        if (v != 2.0f * t + round) return absl::InternalError("wrong saxpy result");
      }
    }
    return absl::OkStatus();
  }));
}

TEST_P(ConcurrencyTest, EightThreadsShareOneStream) {
  // Each thread owns a slot of one buffer and fills it through a shared stream.
  ASSERT_OK_AND_ASSIGN(hal::Stream stream, device_.CreateStream());
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(kThreads * 4));
  ASSERT_OK(RunOnThreads([&](int t) -> absl::Status {
    absl::StatusOr<hal::BufferView> slot = b.View(t * 4, 4);
    if (!slot.ok()) return slot.status();
    for (uint32_t i = 0; i < 200; ++i) {
      absl::Status s = stream.FillU32(*slot, static_cast<uint32_t>(t) * 1000 + i);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }));
  ASSERT_OK(stream.Synchronize());
  std::vector<uint32_t> out(kThreads);
  ASSERT_OK(device_.CopyToHost(b, hal::AsWritableBytes(absl::MakeSpan(out))));
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(out[t], static_cast<uint32_t>(t) * 1000 + 199);
}

TEST_P(ConcurrencyTest, SynchronousCallsFromEightThreads) {
  ASSERT_OK(RunOnThreads([&](int t) -> absl::Status {
    for (int i = 0; i < 50; ++i) {
      absl::StatusOr<hal::Buffer> b = device_.Allocate(4096 + t);
      if (!b.ok()) return b.status();
      std::vector<std::byte> in(b->size(), std::byte(t)), out(b->size());
      absl::Status s = device_.CopyToDevice(in, *b);
      if (s.ok()) s = device_.CopyToHost(*b, absl::MakeSpan(out));
      if (!s.ok()) return s;
      if (in != out) return absl::InternalError("corrupted copy");
    }
    return absl::OkStatus();
  }));
}

TEST_P(ConcurrencyTest, FreeRacingWithUseNeverCrashes) {
  // One thread frees buffers while others use them: every call either works
  // or reports FAILED_PRECONDITION.
  std::vector<hal::Buffer> buffers;
  for (int i = 0; i < 64; ++i) {
    ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(1024));
    buffers.push_back(b);
  }
  std::atomic<int> unexpected{0};
  ASSERT_OK(RunOnThreads([&](int t) -> absl::Status {
    if (t == 0) {
      for (hal::Buffer& b : buffers) {
        absl::Status s = b.Free();
        if (!s.ok()) unexpected++;
      }
      return absl::OkStatus();
    }
    std::vector<std::byte> host(1024);
    for (int round = 0; round < 4; ++round) {
      for (const hal::Buffer& b : buffers) {
        absl::Status s = device_.CopyToHost(b, absl::MakeSpan(host));
        if (!s.ok() && s.code() != absl::StatusCode::kFailedPrecondition) unexpected++;
      }
    }
    return absl::OkStatus();
  }));
  EXPECT_EQ(unexpected.load(), 0);
}

ACCEL_CONFORMANCE_SUITE(ConcurrencyTest);

}  // namespace
}  // namespace accel::conformance
