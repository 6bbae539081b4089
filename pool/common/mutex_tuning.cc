#include "pool/common/mutex_tuning.h"

#include "absl/synchronization/mutex.h"

namespace accel::pool {

void DisableMutexDeadlockDetection() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace accel::pool
