// Deferred release of device objects that queued work may still use.
//
// The plugin ABI lets the HAL free a buffer or unload a module while work
// queued earlier still reads it. cuMemFree and cuModuleUnload promise nothing
// about such work, so freeing at once could let a kernel touch memory that a
// new allocation already owns. Instead, the release waits for every stream
// of the device that is busy at that moment: an event is recorded on each,
// and the release runs once all of them have completed. Only work queued
// before the release can use the object (the HAL refuses a freed handle), so
// those fences cover it. When every stream is idle the release runs at once,
// which is the common case and keeps capacity accounting exact.
#ifndef ACCEL_BACKENDS_CUDA_CUDA_RELEASE_H_
#define ACCEL_BACKENDS_CUDA_CUDA_RELEASE_H_

#include <functional>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "cuda_driver.h"

namespace accel::cuda {

class DeferredReleases {
 public:
  explicit DeferredReleases(const Driver& driver) : driver_(driver) {}
  // Waits for and runs every pending release; the context must be current.
  ~DeferredReleases();

  // Streams of the device, whose work a release must wait for.
  void AddStream(CUstream stream);
  void RemoveStream(CUstream stream);

  // Runs `release` once the work now queued on the device is done. The
  // device's context must be current. Pending releases that became ready run
  // too.
  void Release(std::function<void()> release);

  // Runs the pending releases whose work has finished; with `wait`, waits for
  // all of them (used when memory runs out and at shutdown). The device's
  // context must be current.
  void Collect(bool wait);

  // Whether any release is still waiting.
  bool HasPending();

 private:
  struct Pending {
    std::vector<CUevent> fences;
    std::function<void()> release;
  };
  // True once every fence of `pending` completed (or can never complete
  // because the context failed: the objects are released then too).
  bool Done(Pending& pending, bool wait);

  const Driver& driver_;
  absl::Mutex mu_;
  std::vector<CUstream> streams_ ABSL_GUARDED_BY(mu_);
  std::vector<Pending> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace accel::cuda

#endif  // ACCEL_BACKENDS_CUDA_CUDA_RELEASE_H_
