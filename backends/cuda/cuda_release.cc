#include "cuda_release.h"

#include <algorithm>
#include <utility>

namespace accel::cuda {

DeferredReleases::~DeferredReleases() { Collect(/*wait=*/true); }

void DeferredReleases::AddStream(CUstream stream) {
  absl::MutexLock lock(&mu_);
  streams_.push_back(stream);
}

void DeferredReleases::RemoveStream(CUstream stream) {
  absl::MutexLock lock(&mu_);
  streams_.erase(std::remove(streams_.begin(), streams_.end(), stream), streams_.end());
}

void DeferredReleases::Release(std::function<void()> release) {
  Pending pending;
  bool deferred = false;
  {
    absl::MutexLock lock(&mu_);
    for (CUstream stream : streams_) {
      // Idle streams (and streams of a failed context, whose work will never
      // run) need no fence.
      if (driver_.cuStreamQuery(stream) != CUDA_ERROR_NOT_READY) continue;
      CUevent fence = nullptr;
      if (driver_.cuEventCreate(&fence, CU_EVENT_DISABLE_TIMING) != CUDA_SUCCESS ||
          driver_.cuEventRecord(fence, stream) != CUDA_SUCCESS) {
        // No fence can be placed: wait for the stream instead, which is
        // slower but just as safe.
        if (fence != nullptr) driver_.cuEventDestroy(fence);
        driver_.cuStreamSynchronize(stream);
        continue;
      }
      pending.fences.push_back(fence);
    }
    if (!pending.fences.empty()) {
      pending.release = std::move(release);
      pending_.push_back(std::move(pending));
      deferred = true;
    }
  }
  if (!deferred) release();  // nothing was busy
  Collect(/*wait=*/false);
}

bool DeferredReleases::Done(Pending& pending, bool wait) {
  while (!pending.fences.empty()) {
    CUevent fence = pending.fences.back();
    CUresult r = wait ? driver_.cuEventSynchronize(fence) : driver_.cuEventQuery(fence);
    if (r == CUDA_ERROR_NOT_READY) return false;
    // Success, or an error that means the work will never run: either way
    // nothing uses the object any more.
    driver_.cuEventDestroy(fence);
    pending.fences.pop_back();
  }
  return true;
}

void DeferredReleases::Collect(bool wait) {
  std::vector<std::function<void()>> ready;
  {
    absl::MutexLock lock(&mu_);
    if (pending_.empty()) return;
    auto keep =
        std::partition(pending_.begin(), pending_.end(),
                       [&](Pending& p) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !Done(p, wait); });
    for (auto it = keep; it != pending_.end(); ++it) ready.push_back(std::move(it->release));
    pending_.erase(keep, pending_.end());
  }
  // Outside the lock: a release may take a while (cuMemFree synchronizes).
  for (std::function<void()>& release : ready) release();
}

bool DeferredReleases::HasPending() {
  absl::MutexLock lock(&mu_);
  return !pending_.empty();
}

}  // namespace accel::cuda
