#include "ze_event.h"

#include "absl/strings/str_cat.h"
#include "ze_error.h"

namespace accel::levelzero {
namespace {

// Events per ze_event_pool: large enough that a stream with a thousand
// queued commands needs only a few pools, small enough that an idle device
// holds little.
constexpr uint32_t kChunkSize = 256;

}  // namespace

MarkerPool::~MarkerPool() {
  // Runs when no marker is referenced any more, so no command still signals
  // or waits on these events. Failures here would mean a lost device, and
  // the handles are going away regardless.
  absl::MutexLock lock(&mu_);
  for (Chunk& chunk : chunks_) {
    for (ze_event_handle_t event : chunk.events) api_->zeEventDestroy(event);
    api_->zeEventPoolDestroy(chunk.pool);
    api_->zeMemFree(context_, chunk.timestamps);
  }
}

absl::Status MarkerPool::GrowLocked() {
  Chunk chunk;
  ze_event_pool_desc_t pool_desc = {};
  pool_desc.stype = ZE_STRUCTURE_TYPE_EVENT_POOL_DESC;
  // HOST_VISIBLE: the host queries and waits on every marker.
  pool_desc.flags = ZE_EVENT_POOL_FLAG_HOST_VISIBLE;
  pool_desc.count = kChunkSize;
  ze_device_handle_t device = device_;
  ACCEL_ZE_RETURN_IF_ERROR("zeEventPoolCreate",
                           api_->zeEventPoolCreate(context_, &pool_desc, 1, &device, &chunk.pool));
  ze_host_mem_alloc_desc_t host_desc = {};
  host_desc.stype = ZE_STRUCTURE_TYPE_HOST_MEM_ALLOC_DESC;
  void* slots = nullptr;
  ze_result_t result = api_->zeMemAllocHost(context_, &host_desc, kChunkSize * sizeof(uint64_t),
                                            sizeof(uint64_t), &slots);
  if (result != ZE_RESULT_SUCCESS) {
    api_->zeEventPoolDestroy(chunk.pool);
    return ZeStatus("zeMemAllocHost", result);
  }
  chunk.timestamps = static_cast<uint64_t*>(slots);
  for (uint32_t i = 0; i < kChunkSize; ++i) {
    ze_event_desc_t event_desc = {};
    event_desc.stype = ZE_STRUCTURE_TYPE_EVENT_DESC;
    event_desc.index = i;
    // Host scope on signal: the timestamp write and every earlier command's
    // results are visible to the host once the host sees the event.
    event_desc.signal = ZE_EVENT_SCOPE_FLAG_HOST;
    event_desc.wait = ZE_EVENT_SCOPE_FLAG_HOST;
    ze_event_handle_t event = nullptr;
    result = api_->zeEventCreate(chunk.pool, &event_desc, &event);
    if (result != ZE_RESULT_SUCCESS) {
      for (ze_event_handle_t e : chunk.events) api_->zeEventDestroy(e);
      api_->zeEventPoolDestroy(chunk.pool);
      api_->zeMemFree(context_, chunk.timestamps);
      return ZeStatus("zeEventCreate", result);
    }
    chunk.events.push_back(event);
  }
  for (uint32_t i = 0; i < kChunkSize; ++i) {
    markers_.push_back(std::make_unique<Marker>(Marker{chunk.events[i], chunk.timestamps + i}));
    free_.push_back(markers_.back().get());
  }
  chunks_.push_back(std::move(chunk));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Marker>> MarkerPool::Acquire() {
  absl::MutexLock lock(&mu_);
  if (free_.empty()) {
    absl::Status grown = GrowLocked();
    if (!grown.ok()) return grown;
  }
  Marker* marker = free_.back();
  free_.pop_back();
  *marker->timestamp = 0;
  std::shared_ptr<MarkerPool> self = shared_from_this();
  return std::shared_ptr<Marker>(marker, [self](Marker* m) { self->Release(m); });
}

void MarkerPool::Release(Marker* marker) {
  // The last user is gone: nothing waits on or signals this event any more.
  // A marker that cannot be reset (lost device) is retired instead of being
  // handed out again still signalled.
  if (api_->zeEventHostReset(marker->event) != ZE_RESULT_SUCCESS) return;
  absl::MutexLock lock(&mu_);
  free_.push_back(marker);
}

std::shared_ptr<Marker> ZeEvent::latest() {
  absl::MutexLock lock(&mu_);
  return latest_;
}

void ZeEvent::set_latest(std::shared_ptr<Marker> marker) {
  absl::MutexLock lock(&mu_);
  latest_ = std::move(marker);
}

absl::Status ZeEvent::Synchronize() {
  std::shared_ptr<Marker> marker = latest();
  if (marker == nullptr) return absl::OkStatus();
  return ZeStatus("zeEventHostSynchronize",
                  api_->zeEventHostSynchronize(marker->event, UINT64_MAX));
}

absl::StatusOr<bool> ZeEvent::IsComplete() {
  std::shared_ptr<Marker> marker = latest();
  if (marker == nullptr) return true;
  ze_result_t result = api_->zeEventQueryStatus(marker->event);
  if (result == ZE_RESULT_SUCCESS) return true;
  if (result == ZE_RESULT_NOT_READY) return false;
  return ZeStatus("zeEventQueryStatus", result);
}

absl::StatusOr<float> ZeEvent::ElapsedMillisecondsSince(hal::plugin::EventImpl& start) {
  std::shared_ptr<Marker> begin = static_cast<ZeEvent&>(start).latest();
  std::shared_ptr<Marker> end = latest();
  if (begin == nullptr || end == nullptr) {
    return absl::FailedPreconditionError("elapsed time needs both events recorded and complete");
  }
  for (const std::shared_ptr<Marker>& m : {begin, end}) {
    ze_result_t result = api_->zeEventQueryStatus(m->event);
    if (result == ZE_RESULT_NOT_READY) {
      return absl::FailedPreconditionError("elapsed time needs both events recorded and complete");
    }
    if (result != ZE_RESULT_SUCCESS) return ZeStatus("zeEventQueryStatus", result);
  }
  if (timer_.ticks_per_second == 0) {
    return absl::UnimplementedError("the device reports no timer resolution");
  }
  // The counter wraps at valid_bits: the masked difference is right across
  // one wrap, and HAL intervals are far shorter than a full period.
  uint64_t mask = timer_.valid_bits >= 64 || timer_.valid_bits == 0
                      ? ~uint64_t{0}
                      : (uint64_t{1} << timer_.valid_bits) - 1;
  uint64_t ticks = (*end->timestamp - *begin->timestamp) & mask;
  double sign = 1.0;
  if (ticks > mask / 2) {  // `end` was reached before `start`: a negative interval
    ticks = (*begin->timestamp - *end->timestamp) & mask;
    sign = -1.0;
  }
  return static_cast<float>(sign * static_cast<double>(ticks) * 1000.0 /
                            static_cast<double>(timer_.ticks_per_second));
}

}  // namespace accel::levelzero
