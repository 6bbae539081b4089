// A fixed pool of threads that runs the blocks of host kernel launches. Many
// streams launch at once, so ParallelFor is reentrant: each call is a job
// that the pool's threads and the calling thread work on together.
#ifndef ACCEL_BACKENDS_HOST_THREAD_POOL_H_
#define ACCEL_BACKENDS_HOST_THREAD_POOL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace accel::host {

class ThreadPool {
 public:
  explicit ThreadPool(size_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Calls fn(begin, end) over disjoint chunks covering [0, n); returns when
  // every chunk has run.
  void ParallelFor(uint64_t n, const std::function<void(uint64_t, uint64_t)>& fn);

 private:
  struct Job;
  void WorkerLoop();
  static void RunChunks(Job& job);

  absl::Mutex mu_;
  std::deque<std::shared_ptr<Job>> jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace accel::host

#endif  // ACCEL_BACKENDS_HOST_THREAD_POOL_H_
