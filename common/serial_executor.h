// Serial executors: queues whose tasks run one after another, in order, on a
// bounded set of threads shared by many queues. A stream of a backend or of a
// session is one executor; however many streams there are, they share a
// fixed number of threads.
//
// A task that must wait for another executor's progress (an event recorded
// by another stream) must not hold a thread meanwhile, or a few such waits
// would take every thread and nothing could record the event. It returns
// kWaiting instead, after arranging for Wake() to be called when it can go
// on; the executor then runs the same task again. Tasks that wait on the
// device itself, which progresses without these threads, may block.
#ifndef ACCEL_COMMON_SERIAL_EXECUTOR_H_
#define ACCEL_COMMON_SERIAL_EXECUTOR_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace accel {

class SerialExecutor;

// The threads behind a set of executors: started as work arrives, never more
// than `max_threads`. It must outlive its executors.
class ExecutorThreads {
 public:
  // Starts `min_threads` at once, so that a failure to get a thread
  // (std::system_error) happens here, where the caller can report it; later
  // growth that fails just keeps the threads there are.
  explicit ExecutorThreads(size_t max_threads, size_t min_threads = 1);
  ~ExecutorThreads();
  ExecutorThreads(const ExecutorThreads&) = delete;
  ExecutorThreads& operator=(const ExecutorThreads&) = delete;

  size_t started() const;

 private:
  friend class SerialExecutor;

 public:
  struct Core;  // an executor's state (serial_executor.cc)

 private:
  void Schedule(std::shared_ptr<Core> core);
  void Loop();
  void StartLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_threads_;
  mutable absl::Mutex mu_;
  std::deque<std::shared_ptr<Core>> ready_ ABSL_GUARDED_BY(mu_);
  std::atomic<size_t> ready_count_{0};  // ready_.size(), read without the lock
  size_t idle_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

class SerialExecutor {
 public:
  enum class Step { kDone, kWaiting };
  using Task = std::function<Step()>;

  // Makes a task that waits at the head of the queue resume. Copyable; safe
  // to call at any time from any thread, also after the executor is gone.
  class Waker {
   public:
    void Wake() const;

   private:
    friend class SerialExecutor;
    std::shared_ptr<ExecutorThreads::Core> core_;
    ExecutorThreads* threads_ = nullptr;
  };

  explicit SerialExecutor(ExecutorThreads& threads);
  // Waits until every queued task has run (a waiting task must be woken).
  ~SerialExecutor();
  SerialExecutor(const SerialExecutor&) = delete;
  SerialExecutor& operator=(const SerialExecutor&) = delete;

  // A task that may return kWaiting.
  void PostResumable(Task task);
  // A task that never waits.
  void Post(std::function<void()> task);
  Waker waker() const;
  // Blocks until every task posted before the call has run. Not from a task.
  void Drain();
  // True when nothing is queued or running.
  bool Idle() const;
  // Calls `wake` once the executor is idle: at once if it is. For an owner
  // that must not block on Drain() (a task of another executor).
  void NotifyWhenIdle(Waker wake);
  // Runs `fn` on the calling thread, as if it were a task, and returns true
  // when nothing is queued or running; else returns false without running it.
  // Saves a thread hand-off for work that is quick when the queue is empty.
  bool RunIfIdle(const std::function<void()>& fn);

 private:
  ExecutorThreads& threads_;
  std::shared_ptr<ExecutorThreads::Core> core_;
};

// Executors waiting for a count to reach their generation (an event's
// records): guarded by its owner's lock; the owner wakes what TakeReached
// returns after releasing it.
class GenerationWaiters {
 public:
  void Add(uint64_t generation, SerialExecutor::Waker waker);
  std::vector<SerialExecutor::Waker> TakeReached(uint64_t reached);

 private:
  std::vector<std::pair<uint64_t, SerialExecutor::Waker>> waiters_;
};

}  // namespace accel

#endif  // ACCEL_COMMON_SERIAL_EXECUTOR_H_
