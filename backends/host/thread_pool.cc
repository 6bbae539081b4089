#include "thread_pool.h"

#include <algorithm>
#include <atomic>

namespace accel::host {

struct ThreadPool::Job {
  const std::function<void(uint64_t, uint64_t)>* fn;
  uint64_t n;
  uint64_t chunk;
  uint64_t chunks;
  std::atomic<uint64_t> next{0};
  absl::Mutex mu;
  uint64_t done ABSL_GUARDED_BY(mu) = 0;
};

ThreadPool::ThreadPool(size_t threads) {
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void ThreadPool::RunChunks(Job& job) {
  uint64_t ran = 0;
  for (uint64_t c; (c = job.next.fetch_add(1)) < job.chunks;) {
    uint64_t begin = c * job.chunk;
    (*job.fn)(begin, std::min(job.n, begin + job.chunk));
    ++ran;
  }
  if (ran > 0) {
    absl::MutexLock lock(&job.mu);
    job.done += ran;
  }
}

void ThreadPool::ParallelFor(uint64_t n, const std::function<void(uint64_t, uint64_t)>& fn) {
  if (n == 0) return;
  // A few chunks per thread balance uneven blocks without much overhead.
  uint64_t workers = threads_.size() + 1;
  auto job = std::make_shared<Job>();
  job->fn = &fn;
  job->n = n;
  job->chunk = std::max<uint64_t>(1, n / (workers * 4));
  job->chunks = (n + job->chunk - 1) / job->chunk;
  if (job->chunks > 1 && !threads_.empty()) {
    absl::MutexLock lock(&mu_);
    jobs_.push_back(job);
  }
  RunChunks(*job);
  absl::MutexLock lock(&job->mu);
  job->mu.Await(absl::Condition(
      +[](Job* j) ABSL_EXCLUSIVE_LOCKS_REQUIRED(j->mu) { return j->done == j->chunks; },
      job.get()));
}

void ThreadPool::WorkerLoop() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](ThreadPool* p)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) { return p->stopping_ || !p->jobs_.empty(); },
          this));
      if (jobs_.empty()) return;  // stopping
      job = jobs_.front();
      // Finished jobs leave the queue; the others stay for more helpers.
      if (job->next.load() >= job->chunks) {
        jobs_.pop_front();
        continue;
      }
    }
    RunChunks(*job);
    absl::MutexLock lock(&mu_);
    if (!jobs_.empty() && jobs_.front() == job) jobs_.pop_front();
  }
}

}  // namespace accel::host
