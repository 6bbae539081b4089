#include "common/serial_executor.h"

#include <atomic>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace accel {
namespace {

TEST(SerialExecutorTest, RunsEachExecutorsTasksInOrder) {
  ExecutorThreads threads(4);
  constexpr int kExecutors = 8, kTasks = 2000;
  std::vector<std::unique_ptr<SerialExecutor>> executors;
  std::vector<std::vector<int>> seen(kExecutors);
  for (int e = 0; e < kExecutors; ++e)
    executors.push_back(std::make_unique<SerialExecutor>(threads));
  for (int i = 0; i < kTasks; ++i) {
    for (int e = 0; e < kExecutors; ++e) {
      executors[e]->Post([&seen, e, i] { seen[e].push_back(i); });
    }
  }
  for (auto& executor : executors) executor->Drain();
  for (int e = 0; e < kExecutors; ++e) {
    ASSERT_EQ(seen[e].size(), static_cast<size_t>(kTasks));
    for (int i = 0; i < kTasks; ++i) ASSERT_EQ(seen[e][i], i);
  }
  EXPECT_LE(threads.started(), 4u);
}

TEST(SerialExecutorTest, ThreadsDoNotGrowWithExecutors) {
  ExecutorThreads threads(3);
  std::vector<std::unique_ptr<SerialExecutor>> executors;
  std::atomic<int> ran{0};
  for (int e = 0; e < 500; ++e) {
    executors.push_back(std::make_unique<SerialExecutor>(threads));
    executors.back()->Post([&ran] { ++ran; });
  }
  executors.clear();  // each destructor waits for its task
  EXPECT_EQ(ran.load(), 500);
  EXPECT_LE(threads.started(), 3u);
}

// A resumable wait for something another executor does: more waiters than
// threads must not starve the one executor that would end every wait.
TEST(SerialExecutorTest, WaitingTasksHoldNoThread) {
  ExecutorThreads threads(2);
  constexpr int kWaiters = 50;
  absl::Mutex mu;
  bool signalled = false;
  std::vector<SerialExecutor::Waker> to_wake;
  std::vector<std::unique_ptr<SerialExecutor>> waiters;
  std::atomic<int> resumed{0};
  for (int i = 0; i < kWaiters; ++i) {
    waiters.push_back(std::make_unique<SerialExecutor>(threads));
    SerialExecutor::Waker waker = waiters.back()->waker();
    waiters.back()->PostResumable([&, waker] {
      absl::MutexLock lock(&mu);
      if (!signalled) {
        to_wake.push_back(waker);
        return SerialExecutor::Step::kWaiting;
      }
      return SerialExecutor::Step::kDone;
    });
    waiters.back()->Post([&resumed] { ++resumed; });
  }
  SerialExecutor signaller(threads);
  signaller.Post([&] {
    std::vector<SerialExecutor::Waker> wake;
    {
      absl::MutexLock lock(&mu);
      signalled = true;
      wake.swap(to_wake);
    }
    for (const auto& w : wake) w.Wake();
  });
  signaller.Drain();
  waiters.clear();
  EXPECT_EQ(resumed.load(), kWaiters);
}

// A wake that comes while the task is still deciding to wait is not lost.
TEST(SerialExecutorTest, AWakeDuringTheTaskRunsItAgain) {
  ExecutorThreads threads(1);
  SerialExecutor executor(threads);
  int attempts = 0;
  SerialExecutor::Waker waker = executor.waker();
  executor.PostResumable([&] {
    if (++attempts == 1) {
      waker.Wake();  // before it returns kWaiting
      return SerialExecutor::Step::kWaiting;
    }
    return SerialExecutor::Step::kDone;
  });
  executor.Drain();
  EXPECT_EQ(attempts, 2);
}

TEST(SerialExecutorTest, NotifiesWhenIdle) {
  ExecutorThreads threads(2);
  SerialExecutor busy(threads), watcher(threads);
  absl::Notification release;
  busy.Post([&release] { release.WaitForNotification(); });
  bool saw_idle = false;
  SerialExecutor::Waker waker = watcher.waker();
  watcher.PostResumable([&] {
    if (!busy.Idle()) {
      busy.NotifyWhenIdle(waker);
      return SerialExecutor::Step::kWaiting;
    }
    saw_idle = true;
    return SerialExecutor::Step::kDone;
  });
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(saw_idle);
  release.Notify();
  watcher.Drain();
  EXPECT_TRUE(saw_idle);
}

TEST(SerialExecutorTest, RunIfIdleRunsInlineOnlyWhenNothingIsQueued) {
  ExecutorThreads threads(1);
  SerialExecutor executor(threads);
  bool ran = false;
  EXPECT_TRUE(executor.RunIfIdle([&] { ran = true; }));
  EXPECT_TRUE(ran);
  absl::Notification release;
  executor.Post([&release] { release.WaitForNotification(); });
  EXPECT_FALSE(executor.RunIfIdle([] {}));
  release.Notify();
  executor.Drain();
  // A task posted while the inline function runs waits for it, then runs.
  std::vector<int> order;
  EXPECT_TRUE(executor.RunIfIdle([&] {
    executor.Post([&order] { order.push_back(2); });
    order.push_back(1);
  }));
  executor.Drain();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(GenerationWaitersTest, TakesOnlyThoseTheCountReached) {
  ExecutorThreads threads(1);
  SerialExecutor a(threads), b(threads);
  GenerationWaiters waiters;
  waiters.Add(2, a.waker());
  waiters.Add(5, b.waker());
  EXPECT_EQ(waiters.TakeReached(1).size(), 0u);
  EXPECT_EQ(waiters.TakeReached(3).size(), 1u);  // a's
  EXPECT_EQ(waiters.TakeReached(3).size(), 0u);  // taken once
  EXPECT_EQ(waiters.TakeReached(9).size(), 1u);  // b's
}

}  // namespace
}  // namespace accel
