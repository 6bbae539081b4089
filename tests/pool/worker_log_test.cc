// A session worker's stderr as poold's log shows it (pool/node/worker_log.h):
// the worker runs tenants' code, so each line is the tenant's words, marked
// as such, made harmless, and limited.
#include "pool/node/worker_log.h"

#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace accel::pool {
namespace {

TEST(WorkerLogTest, ALineIsMarkedAsTheWorkersAndItsControlBytesAreWrittenOut) {
  EXPECT_EQ(WorkerLogLine("l-1", "cuda: out of memory"),
            "poold: lease l-1: worker: cuda: out of memory\n");
  // A forged line of poold's own, an escape sequence, a backslash: all
  // stay inside the one marked line.
  EXPECT_EQ(WorkerLogLine("l-1", "x\rpoold: lease l-2: granted\x1b[2J\\"),
            "poold: lease l-1: worker: x\\x0dpoold: lease l-2: granted\\x1b[2J\\\\\n");
  EXPECT_EQ(WorkerLogLine("l-1",
                          "\xc2\x9b"
                          "31m"),
            "poold: lease l-1: worker: \\xc2\\x9b31m\n");
}

TEST(WorkerLogTest, ALongLineIsCutSayingHowMuchWasNotShown) {
  const std::string line = WorkerLogLine("l-1", std::string(WorkerLog::kMaxLine + 10, 'a'));
  EXPECT_EQ(line, "poold: lease l-1: worker: " + std::string(WorkerLog::kMaxLine, 'a') +
                      " [10 more bytes]\n");
  EXPECT_EQ(WorkerLogLine("l-1", "abc", 5000), "poold: lease l-1: worker: abc [5000 more bytes]\n");
}

TEST(WorkerLogTest, ABurstThenTenLinesASecondAndTheHeldBackAreCounted) {
  LogLineBudget budget;
  const auto start = LogLineBudget::Clock::now();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(budget.Take(start)) << i;
  EXPECT_EQ(budget.TakeDropped(), 0u);
  for (int i = 0; i < 7; ++i) EXPECT_FALSE(budget.Take(start));
  // A tenth of a second later one more may go, and says what was held back.
  EXPECT_TRUE(budget.Take(start + std::chrono::milliseconds(100)));
  EXPECT_EQ(budget.TakeDropped(), 7u);
  EXPECT_FALSE(budget.Take(start + std::chrono::milliseconds(100)));
  // A quiet while refills the burst, no more.
  const auto later = start + std::chrono::seconds(60);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(budget.Take(later)) << i;
  EXPECT_FALSE(budget.Take(later));
}

TEST(WorkerLogTest, EveryLineWrittenBeforeTheWorkerEndsIsRelayed) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  // poold's stderr, caught: a file behind fd 2 for the test's while.
  char path[] = "/tmp/worker-log-test-XXXXXX";
  const int caught = mkstemp(path);
  ASSERT_GE(caught, 0);
  fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  dup2(caught, STDERR_FILENO);
  {
    WorkerLog log("l-9", fds[0]);
    const std::string written = "first\nsecond, not ended";
    ASSERT_EQ(write(fds[1], written.data(), written.size()), static_cast<ssize_t>(written.size()));
    close(fds[1]);  // the worker exits
  }
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::string got(4096, '\0');
  const ssize_t n = pread(caught, got.data(), got.size(), 0);
  close(caught);
  unlink(path);
  ASSERT_GE(n, 0);
  got.resize(static_cast<size_t>(n));
  EXPECT_EQ(got,
            "poold: lease l-9: worker: first\n"
            "poold: lease l-9: worker: second, not ended\n");
}

}  // namespace
}  // namespace accel::pool
