#include "common/serial_executor.h"

#include <atomic>
#include <system_error>
#include <utility>

namespace accel {

// An executor's queue and state, shared with the threads that run it and
// with its wakers, so that neither ever points at a queue that is gone.
struct ExecutorThreads::Core {
  absl::Mutex mu;
  std::deque<SerialExecutor::Task> tasks ABSL_GUARDED_BY(mu);
  bool scheduled ABSL_GUARDED_BY(mu) = false;  // queued on the threads, or running
  bool running ABSL_GUARDED_BY(mu) = false;    // a task is running
  bool waiting ABSL_GUARDED_BY(mu) = false;    // the head task waits for Wake()
  bool woken ABSL_GUARDED_BY(mu) = false;      // Wake() came while a task ran
  uint64_t posted ABSL_GUARDED_BY(mu) = 0;     // tasks ever posted
  uint64_t finished ABSL_GUARDED_BY(mu) = 0;   // tasks that ran to their end
  std::vector<SerialExecutor::Waker> idle_watchers ABSL_GUARDED_BY(mu);

  bool IdleLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return tasks.empty() && !running && !scheduled;
  }
  // Wakes whoever waits for the executor to be idle, once it is.
  std::vector<SerialExecutor::Waker> TakeIdleWatchersLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (!IdleLocked()) return {};
    return std::move(idle_watchers);
  }
};

namespace {

// Tasks run per turn on a thread before the executor goes to the back of the
// line: many busy streams share the threads fairly, and a stream of small
// commands does not pay a hand-off for each.
constexpr int kTasksPerTurn = 64;
// How long a thread stays with an executor whose queue ran empty.
constexpr absl::Duration kLinger = absl::Microseconds(50);

void WakeAll(const std::vector<SerialExecutor::Waker>& wakers) {
  for (const SerialExecutor::Waker& w : wakers) w.Wake();
}

// Runs one turn of `core`; returns whether it must be scheduled again.
// `others_ready`: executors waiting for a thread, for whom this one does not
// linger.
bool RunTurn(ExecutorThreads::Core& core,
             const std::atomic<size_t>& others_ready) ABSL_NO_THREAD_SAFETY_ANALYSIS;

}  // namespace

ExecutorThreads::ExecutorThreads(size_t max_threads, size_t min_threads)
    : max_threads_(max_threads < 1 ? 1 : max_threads) {
  absl::MutexLock lock(&mu_);
  while (threads_.size() < std::min(std::max<size_t>(min_threads, 1), max_threads_)) {
    StartLocked();  // throws std::system_error when the system has no thread to give
  }
}

ExecutorThreads::~ExecutorThreads() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
}

size_t ExecutorThreads::started() const {
  absl::MutexLock lock(&mu_);
  return threads_.size();
}

void ExecutorThreads::StartLocked() {
  threads_.emplace_back([this] { Loop(); });
}

void ExecutorThreads::Schedule(std::shared_ptr<Core> core) {
  absl::MutexLock lock(&mu_);
  ready_.push_back(std::move(core));
  ready_count_ = ready_.size();
  if (ready_.size() > idle_ && threads_.size() < max_threads_) {
    try {
      StartLocked();
    } catch (const std::system_error&) {
      // The threads already there run it, a little later.
    }
  }
}

void ExecutorThreads::Loop() {
  for (;;) {
    std::shared_ptr<Core> core;
    {
      absl::MutexLock lock(&mu_);
      ++idle_;
      mu_.Await(absl::Condition(
          +[](ExecutorThreads* t)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(t->mu_) { return t->stopping_ || !t->ready_.empty(); },
          this));
      --idle_;
      if (ready_.empty()) return;  // stopping, and nothing is left to run
      core = std::move(ready_.front());
      ready_.pop_front();
      ready_count_ = ready_.size();
    }
    if (RunTurn(*core, ready_count_)) Schedule(std::move(core));
  }
}

namespace {

bool RunTurn(ExecutorThreads::Core& core, const std::atomic<size_t>& others_ready) {
  std::vector<SerialExecutor::Waker> watchers;
  {
    absl::MutexLock lock(&core.mu);
    for (int i = 0; i < kTasksPerTurn; ++i) {
      if (core.tasks.empty() && !core.running && others_ready.load() == 0) {
        // A busy stream's next command is usually on its way: waiting a
        // moment for it here saves the hand-off to another thread that
        // leaving and being scheduled again would cost.
        core.mu.AwaitWithTimeout(absl::Condition(
                                     +[](ExecutorThreads::Core* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                                          c->mu) { return !c->tasks.empty() || c->running; },
                                     &core),
                                 kLinger);
      }
      if (core.running) {
        // RunIfIdle() runs on its caller's thread; it schedules what follows.
        core.scheduled = false;
        return false;
      }
      if (core.tasks.empty()) break;
      SerialExecutor::Task task = std::move(core.tasks.front());
      core.tasks.pop_front();
      core.running = true;
      core.woken = false;
      core.mu.Unlock();
      const SerialExecutor::Step step = task();
      // What a finished task holds goes before anyone hears it finished.
      if (step == SerialExecutor::Step::kDone) task = nullptr;
      core.mu.Lock();
      core.running = false;
      if (step == SerialExecutor::Step::kDone) {
        ++core.finished;
      } else {
        core.tasks.push_front(std::move(task));
        if (!core.woken) {
          // Off the threads until Wake(): the waiting costs no thread.
          core.waiting = true;
          core.scheduled = false;
          return false;
        }
      }
    }
    if (!core.tasks.empty()) return true;  // the back of the line, for fairness
    core.scheduled = false;
    watchers = core.TakeIdleWatchersLocked();
  }
  WakeAll(watchers);  // not under the lock: a watcher may be this executor's owner
  return false;
}

}  // namespace

void SerialExecutor::Waker::Wake() const {
  if (core_ == nullptr) return;
  ExecutorThreads* threads = nullptr;
  {
    absl::MutexLock lock(&core_->mu);
    if (core_->running) {
      core_->woken = true;
    } else if (core_->waiting) {
      core_->waiting = false;
      core_->scheduled = true;
      threads = threads_;
    }
  }
  if (threads != nullptr) threads->Schedule(core_);
}

SerialExecutor::SerialExecutor(ExecutorThreads& threads)
    : threads_(threads), core_(std::make_shared<ExecutorThreads::Core>()) {}

SerialExecutor::~SerialExecutor() {
  absl::MutexLock lock(&core_->mu);
  core_->mu.Await(absl::Condition(
      +[](ExecutorThreads::Core* c)
           ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu) { return c->IdleLocked(); },
      core_.get()));
}

void SerialExecutor::PostResumable(Task task) {
  {
    absl::MutexLock lock(&core_->mu);
    core_->tasks.push_back(std::move(task));
    ++core_->posted;
    // Running without being scheduled: RunIfIdle(), which schedules it next.
    if (core_->scheduled || core_->waiting || core_->running) return;
    core_->scheduled = true;
  }
  threads_.Schedule(core_);
}

void SerialExecutor::Post(std::function<void()> task) {
  PostResumable([task = std::move(task)] {
    task();
    return Step::kDone;
  });
}

SerialExecutor::Waker SerialExecutor::waker() const {
  Waker w;
  w.core_ = core_;
  w.threads_ = &threads_;
  return w;
}

void SerialExecutor::Drain() {
  absl::MutexLock lock(&core_->mu);
  const uint64_t target = core_->posted;
  auto done = [this, target]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(core_->mu) { return core_->finished >= target; };
  core_->mu.Await(absl::Condition(&done));
}

bool SerialExecutor::Idle() const {
  absl::MutexLock lock(&core_->mu);
  return core_->IdleLocked();
}

void SerialExecutor::NotifyWhenIdle(Waker wake) {
  {
    absl::MutexLock lock(&core_->mu);
    if (!core_->IdleLocked()) {
      core_->idle_watchers.push_back(std::move(wake));
      return;
    }
  }
  wake.Wake();
}

bool SerialExecutor::RunIfIdle(const std::function<void()>& fn) {
  {
    absl::MutexLock lock(&core_->mu);
    // Scheduled with nothing queued is idle too: its thread is about to
    // find the queue empty.
    if (!core_->tasks.empty() || core_->running || core_->waiting) return false;
    core_->running = true;  // tasks posted meanwhile wait for `fn`
  }
  fn();
  bool reschedule = false;
  std::vector<Waker> watchers;
  {
    absl::MutexLock lock(&core_->mu);
    core_->running = false;
    if (!core_->tasks.empty() && !core_->scheduled) {
      core_->scheduled = true;  // posted while `fn` ran
      reschedule = true;
    } else {
      watchers = core_->TakeIdleWatchersLocked();
    }
  }
  if (reschedule) {
    threads_.Schedule(core_);
  } else {
    WakeAll(watchers);
  }
  return true;
}

void GenerationWaiters::Add(uint64_t generation, SerialExecutor::Waker waker) {
  waiters_.emplace_back(generation, std::move(waker));
}

std::vector<SerialExecutor::Waker> GenerationWaiters::TakeReached(uint64_t reached) {
  std::vector<SerialExecutor::Waker> wake;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->first <= reached) {
      wake.push_back(std::move(it->second));
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
  return wake;
}

}  // namespace accel
