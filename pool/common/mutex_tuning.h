// Abseil's mutex deadlock detection, off in the pool's own processes.
//
// Abseil as Debian builds it checks every lock acquisition against a global
// lock graph guarded by one spinlock, and every mutex destruction removes the
// mutex from it. On a session's hot path (a command: a few locks, a few
// short-lived mutexes) that cost more than the work itself: on the 2-core
// development VM, pipelined empty launches through a session went from about
// 250k to 440k per second without it, and on the local host backend from
// 0.4-0.6M to 1.5-2.4M. The tests' in-process code keeps it on, where it
// finds lock-order bugs.
#ifndef ACCEL_POOL_COMMON_MUTEX_TUNING_H_
#define ACCEL_POOL_COMMON_MUTEX_TUNING_H_

namespace accel::pool {

// For the main() of poold, the session worker and the benchmarks.
void DisableMutexDeadlockDetection();

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_MUTEX_TUNING_H_
