// A thread that runs tasks one after another: for the blocking waits of a
// session (event synchronization), which must not stall its command reader.
#ifndef ACCEL_POOL_COMMON_SERIAL_QUEUE_H_
#define ACCEL_POOL_COMMON_SERIAL_QUEUE_H_

#include <deque>
#include <functional>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace accel::pool {

class SerialQueue {
 public:
  SerialQueue() : thread_([this] { Loop(); }) {}
  ~SerialQueue() {  // runs what is queued, then stops
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }
  SerialQueue(const SerialQueue&) = delete;
  SerialQueue& operator=(const SerialQueue&) = delete;

  void Post(std::function<void()> task) {
    absl::MutexLock lock(&mu_);
    tasks_.push_back(std::move(task));
  }

 private:
  void Loop() {
    for (;;) {
      std::function<void()> task;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](SerialQueue* q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(q->mu_) {
              return q->stopping_ || !q->tasks_.empty();
            },
            this));
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_SERIAL_QUEUE_H_
