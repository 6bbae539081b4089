#include "ze_stream.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ze_device.h"
#include "ze_error.h"
#include "ze_module.h"

namespace accel::levelzero {

absl::StatusOr<std::unique_ptr<ZeStream>> ZeStream::Create(ZeDevice& device) {
  ze_command_queue_desc_t desc = {};
  desc.stype = ZE_STRUCTURE_TYPE_COMMAND_QUEUE_DESC;
  desc.ordinal = device.compute_ordinal();
  desc.index = 0;
  desc.mode = ZE_COMMAND_QUEUE_MODE_ASYNCHRONOUS;  // appends return before the work is done
  desc.priority = ZE_COMMAND_QUEUE_PRIORITY_NORMAL;
  ze_command_list_handle_t list = nullptr;
  ACCEL_ZE_RETURN_IF_ERROR(
      "zeCommandListCreateImmediate",
      device.api()->zeCommandListCreateImmediate(device.context(), device.handle(), &desc, &list));
  return std::unique_ptr<ZeStream>(new ZeStream(device, list));
}

ZeStream::~ZeStream() {
  // stream_destroy may come with work queued: wait for it, then release what
  // it held. A failure here was, or would have been, a stream failure; with
  // the stream going away there is no caller left to tell.
  absl::Status drained = Synchronize();
  (void)drained;
  absl::MutexLock lock(&mu_);
  in_flight_.clear();
  tail_ = nullptr;
  device_.api()->zeCommandListDestroy(list_);
}

void ZeStream::RetireLocked() {
  while (!in_flight_.empty()) {
    ze_result_t result = device_.api()->zeEventQueryStatus(in_flight_.front().done->event);
    if (result == ZE_RESULT_NOT_READY) return;
    if (result != ZE_RESULT_SUCCESS) {
      if (unreported_.ok()) unreported_ = ZeStatus("zeEventQueryStatus", result);
      return;
    }
    in_flight_.pop_front();
  }
}

absl::Status ZeStream::Submit(const char* call, const Append& append, KeepAlive keep,
                              std::shared_ptr<Marker> extra_wait, std::shared_ptr<Marker>* done) {
  absl::MutexLock lock(&mu_);
  RetireLocked();
  if (!unreported_.ok()) return TakeUnreportedLocked();
  absl::StatusOr<std::shared_ptr<Marker>> marker = device_.markers().Acquire();
  if (!marker.ok()) return marker.status();
  ze_event_handle_t waits[2];
  uint32_t num_waits = 0;
  if (tail_ != nullptr) waits[num_waits++] = tail_->event;
  if (extra_wait != nullptr) waits[num_waits++] = extra_wait->event;
  ze_result_t result = append(**marker, num_waits, num_waits > 0 ? waits : nullptr);
  if (result != ZE_RESULT_SUCCESS) {
    absl::Status status = ZeStatus(call, result);
    if (status.code() != absl::StatusCode::kInvalidArgument &&
        status.code() != absl::StatusCode::kNotFound) {
      return hal::plugin::StreamFailure(std::move(status));
    }
    return status;
  }
  // The waited-on markers must not be recycled before this command has run,
  // so the command holds them until its own marker signals.
  if (tail_ != nullptr) keep.push_back(tail_);
  if (extra_wait != nullptr) keep.push_back(std::move(extra_wait));
  tail_ = *marker;
  if (done != nullptr) *done = *marker;
  in_flight_.push_back(InFlight{*std::move(marker), std::move(keep)});
  return absl::OkStatus();
}

absl::Status ZeStream::Synchronize() {
  std::shared_ptr<Marker> tail;
  {
    absl::MutexLock lock(&mu_);
    tail = tail_;
  }
  // Wait without the lock, so other threads can keep queuing meanwhile.
  ze_result_t result = ZE_RESULT_SUCCESS;
  if (tail != nullptr) result = device_.api()->zeEventHostSynchronize(tail->event, UINT64_MAX);
  absl::MutexLock lock(&mu_);
  if (result != ZE_RESULT_SUCCESS && unreported_.ok()) {
    unreported_ = ZeStatus("zeEventHostSynchronize", result);
  }
  RetireLocked();
  return TakeUnreportedLocked();
}

absl::Status ZeStream::TakeUnreportedLocked() {
  return hal::plugin::StreamFailure(std::exchange(unreported_, absl::OkStatus()));
}

absl::Status ZeStream::CopyHostToDevice(const void* src, hal::plugin::BufferImpl& dst,
                                        uint64_t dst_offset, uint64_t size) {
  if (size == 0) return absl::OkStatus();
  const std::shared_ptr<ZeAllocation>& memory = MemoryOf(dst);
  void* to = memory->at(dst_offset);
  // `src` is ordinary host memory; the HAL guarantees it stays valid until
  // the command completes, and Level Zero copies from it directly.
  return Submit("zeCommandListAppendMemoryCopy",
                [&](Marker& done, uint32_t n, ze_event_handle_t* waits) {
                  return device_.api()->zeCommandListAppendMemoryCopy(list_, to, src, size,
                                                                      done.event, n, waits);
                },
                {memory});
}

absl::Status ZeStream::CopyDeviceToHost(hal::plugin::BufferImpl& src, uint64_t src_offset,
                                        void* dst, uint64_t size) {
  if (size == 0) return absl::OkStatus();
  const std::shared_ptr<ZeAllocation>& memory = MemoryOf(src);
  const void* from = memory->at(src_offset);
  return Submit("zeCommandListAppendMemoryCopy",
                [&](Marker& done, uint32_t n, ze_event_handle_t* waits) {
                  return device_.api()->zeCommandListAppendMemoryCopy(list_, dst, from, size,
                                                                      done.event, n, waits);
                },
                {memory});
}

absl::Status ZeStream::CopyDeviceToDevice(hal::plugin::BufferImpl& src, uint64_t src_offset,
                                          hal::plugin::BufferImpl& dst, uint64_t dst_offset,
                                          uint64_t size) {
  if (size == 0) return absl::OkStatus();
  const std::shared_ptr<ZeAllocation>& from = MemoryOf(src);
  const std::shared_ptr<ZeAllocation>& to = MemoryOf(dst);
  auto copy = [this](void* d, const void* s, uint64_t n) -> Append {
    return [this, d, s, n](Marker& done, uint32_t num_waits, ze_event_handle_t* waits) {
      return device_.api()->zeCommandListAppendMemoryCopy(list_, d, s, n, done.event, num_waits,
                                                          waits);
    };
  };
  bool overlap = from == to && src_offset < dst_offset + size && dst_offset < src_offset + size;
  if (!overlap) {
    return Submit("zeCommandListAppendMemoryCopy",
                  copy(to->at(dst_offset), from->at(src_offset), size), {from, to});
  }
  // The HAL's copy has memmove semantics, but Level Zero rejects overlapping
  // regions (ZE_RESULT_ERROR_OVERLAPPING_REGIONS): go through a scratch
  // allocation that the two chained commands keep alive.
  absl::StatusOr<std::shared_ptr<ZeAllocation>> scratch =
      device_.AllocateMemory(size, /*zero_fill=*/false);
  if (!scratch.ok()) return scratch.status();
  absl::Status first =
      Submit("zeCommandListAppendMemoryCopy", copy((*scratch)->ptr(), from->at(src_offset), size),
             {from, *scratch});
  if (!first.ok()) return first;
  return Submit("zeCommandListAppendMemoryCopy", copy(to->at(dst_offset), (*scratch)->ptr(), size),
                {to, *scratch});
}

absl::Status ZeStream::Fill(hal::plugin::BufferImpl& dst, uint64_t offset, uint64_t size,
                            uint32_t pattern, uint32_t pattern_size) {
  if (size == 0) return absl::OkStatus();
  if (pattern_size != 1 && pattern_size != 2 && pattern_size != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("fill pattern size must be 1, 2 or 4 bytes, not ", pattern_size));
  }
  const std::shared_ptr<ZeAllocation>& memory = MemoryOf(dst);
  // The pattern's bytes are the first pattern_size bytes of the value (the
  // HAL packs them little-endian). Kept alive with the command in case the
  // driver reads it at execution rather than at append.
  auto bytes = std::make_shared<uint32_t>(pattern);
  void* to = memory->at(offset);
  return Submit("zeCommandListAppendMemoryFill",
                [&](Marker& done, uint32_t n, ze_event_handle_t* waits) {
                  return device_.api()->zeCommandListAppendMemoryFill(
                      list_, to, bytes.get(), pattern_size, size, done.event, n, waits);
                },
                {memory, bytes});
}

absl::Status ZeStream::Launch(hal::plugin::KernelImpl& kernel, const AccelLaunchConfig& config,
                              absl::Span<const hal::plugin::LaunchArg> args) {
  const std::shared_ptr<ZeKernelCore>& core = static_cast<ZeKernel&>(kernel).core();
  const uint32_t declared = core->num_args();
  const bool local_arg = declared == args.size() + 1;
  if (declared != args.size() && !local_arg) {
    return absl::InvalidArgumentError(absl::StrCat("kernel '", core->name(), "' takes ", declared,
                                                   " arguments, the launch passes ", args.size()));
  }
  if (local_arg && config.shared_memory_bytes == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("kernel '", core->name(),
                     "' uses dynamic shared memory (a trailing __local argument): launch it with "
                     "shared_memory_bytes > 0"));
  }
  // The launch holds the kernel (and through it the module) and every buffer
  // it touches until it completes.
  KeepAlive keep = {core};
  for (const hal::plugin::LaunchArg& a : args) {
    if (a.kind == ACCEL_ARG_BUFFER) keep.push_back(MemoryOf(*a.buffer));
  }
  const ZeApi* api = device_.api();
  // Arguments and group size are kernel state read at append time, so they
  // are set under the kernel's lock, inside Submit, right before the append.
  return Submit(
      "zeCommandListAppendLaunchKernel",
      [&](Marker& done, uint32_t n, ze_event_handle_t* waits) -> ze_result_t {
        absl::MutexLock kernel_lock(&core->mu());
        ze_kernel_handle_t k = core->handle();
        ze_result_t r =
            api->zeKernelSetGroupSize(k, config.block[0], config.block[1], config.block[2]);
        if (r != ZE_RESULT_SUCCESS) return r;
        for (uint32_t i = 0; i < args.size(); ++i) {
          const hal::plugin::LaunchArg& a = args[i];
          if (a.kind == ACCEL_ARG_BUFFER) {
            // The kernel sees a global pointer: the device address of the view.
            const std::shared_ptr<ZeAllocation>& memory = MemoryOf(*a.buffer);
            void* pointer = memory->at(a.offset);
            r = api->zeKernelSetArgumentValue(k, i, sizeof(pointer), &pointer);
          } else {
            // Scalars by value with their width; raw bytes by size/pointer
            // (the driver copies both at this call).
            r = api->zeKernelSetArgumentValue(k, i, a.size, a.data);
          }
          if (r != ZE_RESULT_SUCCESS) return r;
        }
        if (local_arg) {
          r = api->zeKernelSetArgumentValue(k, declared - 1, config.shared_memory_bytes, nullptr);
          if (r != ZE_RESULT_SUCCESS) return r;
        }
        ze_group_count_t groups = {config.grid[0], config.grid[1], config.grid[2]};
        return api->zeCommandListAppendLaunchKernel(list_, k, &groups, done.event, n, waits);
      },
      std::move(keep));
}

absl::Status ZeStream::RecordEvent(hal::plugin::EventImpl& event) {
  auto& ze_event = static_cast<ZeEvent&>(event);
  std::shared_ptr<Marker> done;
  absl::Status queued = Submit(
      "zeCommandListAppendWriteGlobalTimestamp",
      [&](Marker& marker, uint32_t n, ze_event_handle_t* waits) {
        return device_.api()->zeCommandListAppendWriteGlobalTimestamp(list_, marker.timestamp,
                                                                      marker.event, n, waits);
      },
      {}, nullptr, &done);
  // A record that could not be queued leaves the event complete (never
  // recorded), so nobody waits forever on a failed stream.
  ze_event.set_latest(queued.ok() ? std::move(done) : nullptr);
  return queued;
}

absl::Status ZeStream::WaitEvent(hal::plugin::EventImpl& event) {
  std::shared_ptr<Marker> marker = static_cast<ZeEvent&>(event).latest();
  if (marker == nullptr) return absl::OkStatus();
  // A barrier that waits on both this stream's last command and the event,
  // and becomes the stream's new last command.
  return Submit(
      "zeCommandListAppendBarrier",
      [&](Marker& done, uint32_t n, ze_event_handle_t* waits) {
        return device_.api()->zeCommandListAppendBarrier(list_, done.event, n, waits);
      },
      {}, std::move(marker));
}

}  // namespace accel::levelzero
