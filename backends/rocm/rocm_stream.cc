#include "rocm_stream.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "hip_error.h"
#include "rocm_event.h"
#include "rocm_memory.h"
#include "rocm_module.h"

namespace accel::rocm {
namespace {

// HIP copies kernel arguments when the launch is enqueued, reading as many
// bytes as the kernel's metadata says. A raw-bytes argument is copied into a
// zero-padded block of the largest kernarg segment HIP accepts, so a kernel
// that expects more than the caller passed reads zeros, not foreign memory.
constexpr size_t kMaxKernelArgumentBytes = 4096;
constexpr size_t kMaxRecentKernels = 8;

hipDeviceptr_t At(hal::plugin::BufferImpl& buffer, uint64_t offset) {
  return static_cast<RocmBuffer&>(buffer).at(offset);
}

// Errors that say the request was wrong leave the stream usable; anything
// else means the device or earlier work failed.
bool IsRequestError(absl::StatusCode code) {
  return code == absl::StatusCode::kInvalidArgument ||
         code == absl::StatusCode::kResourceExhausted || code == absl::StatusCode::kNotFound ||
         code == absl::StatusCode::kOutOfRange || code == absl::StatusCode::kUnimplemented;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RocmStream>> RocmStream::Create(const RocmDevice& device) {
  const HipApi& api = device.api();
  ScopedDevice scoped(device);
  if (!scoped.ok()) return scoped.status();
  hipStream_t stream = nullptr;
  absl::Status status = HipStatus(api, api.hipStreamCreateWithFlags(&stream, hipStreamNonBlocking),
                                  "hipStreamCreateWithFlags");
  if (!status.ok()) return status;
  return std::unique_ptr<RocmStream>(new RocmStream(device, stream));
}

RocmStream::~RocmStream() {
  const HipApi& api = device_.api();
  ScopedDevice scoped(device_);
  // The interface promises that destroying a stream waits for its work. An
  // error here has no caller to go to: the stream's owner let it go without
  // synchronizing, and the work's results are gone with it. A HIP stream
  // belongs to its device, so the wait does not depend on `scoped`.
  (void)api.hipStreamSynchronize(stream_);
  std::vector<void*> temporaries;
  {
    absl::MutexLock lock(&mu_);
    temporaries.swap(temporaries_);
  }
  FreeTemporaries(temporaries);
  (void)api.hipStreamDestroy(stream_);
}

void RocmStream::FreeTemporaries(const std::vector<void*>& temporaries) {
  // hipFree fails only for a pointer it does not know, which would be a bug
  // here, and the memory is ours alone: there is no one to tell.
  for (void* temporary : temporaries) (void)device_.api().hipFree(temporary);
}

absl::Status RocmStream::Fail(absl::Status status) {
  if (IsRequestError(status.code())) return status;
  std::string message(status.message());
  if (!recent_kernels_.empty()) {
    absl::StrAppend(&message, " (kernels launched on this stream since it last synchronized: ",
                    absl::StrJoin(recent_kernels_, ", "), ")");
  }
  return hal::plugin::StreamFailure(absl::Status(status.code(), message));
}

template <typename F>
absl::Status RocmStream::Submit(absl::string_view call, F&& enqueue) {
  absl::MutexLock lock(&mu_);
  ScopedDevice scoped(device_);
  absl::Status status = scoped.status();
  if (status.ok()) status = HipStatus(device_.api(), enqueue(), call);
  if (!status.ok()) return Fail(std::move(status));
  return absl::OkStatus();
}

absl::Status RocmStream::CopyHostToDevice(const void* src, hal::plugin::BufferImpl& dst,
                                          uint64_t dst_offset, uint64_t size) {
  return Submit("hipMemcpyHtoDAsync", [&] {
    if (size == 0) return hipSuccess;
    return device_.api().hipMemcpyHtoDAsync(At(dst, dst_offset), const_cast<void*>(src), size,
                                            stream_);
  });
}

absl::Status RocmStream::CopyDeviceToHost(hal::plugin::BufferImpl& src, uint64_t src_offset,
                                          void* dst, uint64_t size) {
  return Submit("hipMemcpyDtoHAsync", [&] {
    if (size == 0) return hipSuccess;
    return device_.api().hipMemcpyDtoHAsync(dst, At(src, src_offset), size, stream_);
  });
}

absl::Status RocmStream::CopyDeviceToDevice(hal::plugin::BufferImpl& src, uint64_t src_offset,
                                            hal::plugin::BufferImpl& dst, uint64_t dst_offset,
                                            uint64_t size) {
  hipDeviceptr_t from = At(src, src_offset);
  hipDeviceptr_t to = At(dst, dst_offset);
  // Addresses of one device's memory compared as integers: the ranges of two
  // different buffers never overlap, so only a copy within one buffer can.
  const uintptr_t begin = reinterpret_cast<uintptr_t>(from);
  const uintptr_t end = reinterpret_cast<uintptr_t>(to);
  if (size != 0 && begin < end + size && end < begin + size) {
    return CopyOverlapping(to, from, size);
  }
  return Submit("hipMemcpyDtoDAsync", [&] {
    if (size == 0) return hipSuccess;
    return device_.api().hipMemcpyDtoDAsync(to, from, size, stream_);
  });
}

absl::Status RocmStream::CopyOverlapping(hipDeviceptr_t to, hipDeviceptr_t from, uint64_t size) {
  const HipApi& api = device_.api();
  absl::MutexLock lock(&mu_);
  if (to == from) return absl::OkStatus();  // a copy onto itself changes nothing
  ScopedDevice scoped(device_);
  if (!scoped.ok()) return Fail(scoped.status());
  void* temporary = nullptr;
  hipError_t error = api.hipMalloc(&temporary, size);
  if (error == hipErrorOutOfMemory && !temporaries_.empty()) {
    // Earlier overlapping copies may hold the memory: once the stream is past
    // them, their temporaries can go. Waits under the lock, as a rare case.
    absl::Status synced = HipStatus(api, api.hipStreamSynchronize(stream_), "hipStreamSynchronize");
    if (!synced.ok()) {
      // A failed wait means queued work failed, whatever the code says.
      return Fail(
          absl::Status(IsRequestError(synced.code()) ? absl::StatusCode::kInternal : synced.code(),
                       synced.message()));
    }
    std::vector<void*> done;
    done.swap(temporaries_);
    FreeTemporaries(done);
    error = api.hipMalloc(&temporary, size);
  }
  absl::Status status =
      HipStatus(api, error, absl::StrCat("hipMalloc(", size, ") for an overlapping copy"));
  if (!status.ok()) return Fail(std::move(status));
  // Freed only after a wait for this stream: the copies below use it later.
  temporaries_.push_back(temporary);
  status = HipStatus(api, api.hipMemcpyDtoDAsync(temporary, from, size, stream_),
                     "hipMemcpyDtoDAsync (to a temporary)");
  if (status.ok()) {
    status = HipStatus(api, api.hipMemcpyDtoDAsync(to, temporary, size, stream_),
                       "hipMemcpyDtoDAsync (from a temporary)");
  }
  if (!status.ok()) return Fail(std::move(status));
  return absl::OkStatus();
}

absl::Status RocmStream::Fill(hal::plugin::BufferImpl& dst, uint64_t offset, uint64_t size,
                              uint32_t pattern, uint32_t pattern_size) {
  const HipApi& api = device_.api();
  hipDeviceptr_t p = At(dst, offset);
  // The pattern's low bytes, in memory order, repeat: what HIP's D8/D16/D32
  // fills write on a little-endian device.
  switch (pattern_size) {
    case 1:
      return Submit("hipMemsetD8Async", [&] {
        return size == 0 ? hipSuccess
                         : api.hipMemsetD8Async(p, static_cast<unsigned char>(pattern & 0xff), size,
                                                stream_);
      });
    case 2:
      return Submit("hipMemsetD16Async", [&] {
        return size == 0 ? hipSuccess
                         : api.hipMemsetD16Async(p, static_cast<unsigned short>(pattern & 0xffff),
                                                 size / 2, stream_);
      });
    case 4:
      return Submit("hipMemsetD32Async", [&] {
        return size == 0 ? hipSuccess
                         : api.hipMemsetD32Async(p, static_cast<int>(pattern), size / 4, stream_);
      });
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("fill pattern must be 1, 2 or 4 bytes, not ", pattern_size));
  }
}

absl::Status RocmStream::Launch(hal::plugin::KernelImpl& kernel, const AccelLaunchConfig& config,
                                absl::Span<const hal::plugin::LaunchArg> args) {
  auto& rocm_kernel = static_cast<RocmKernel&>(kernel);
  if (config.shared_memory_bytes > std::numeric_limits<unsigned int>::max()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dynamic shared memory of ", config.shared_memory_bytes, " bytes is beyond HIP's limit"));
  }
  // kernelParams: one pointer per argument to its value. Everything pointed
  // to lives until hipModuleLaunchKernel returns, which is all HIP needs.
  std::vector<void*> params(args.size());
  std::vector<hipDeviceptr_t> pointers(args.size());
  std::vector<std::vector<unsigned char>> bytes;
  bytes.reserve(args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    const hal::plugin::LaunchArg& a = args[i];
    if (a.kind == ACCEL_ARG_BUFFER) {
      pointers[i] = At(*a.buffer, a.offset);
      params[i] = &pointers[i];
    } else if (a.kind == ACCEL_ARG_BYTES) {
      bytes.emplace_back(std::max<size_t>(a.size, kMaxKernelArgumentBytes), 0);
      if (a.size > 0) std::memcpy(bytes.back().data(), a.data, a.size);
      params[i] = bytes.back().data();
    } else {
      params[i] = const_cast<void*>(a.data);  // a scalar of its natural width
    }
  }
  absl::Status status =
      Submit(absl::StrCat("hipModuleLaunchKernel(", rocm_kernel.name(), ")"), [&] {
        return device_.api().hipModuleLaunchKernel(
            rocm_kernel.function(), config.grid[0], config.grid[1], config.grid[2], config.block[0],
            config.block[1], config.block[2], static_cast<unsigned int>(config.shared_memory_bytes),
            stream_, params.empty() ? nullptr : params.data(), nullptr);
      });
  if (status.ok()) {
    absl::MutexLock lock(&mu_);
    if (std::find(recent_kernels_.begin(), recent_kernels_.end(), rocm_kernel.name()) ==
            recent_kernels_.end() &&
        recent_kernels_.size() < kMaxRecentKernels) {
      recent_kernels_.push_back(rocm_kernel.name());
    }
  }
  return status;
}

absl::Status RocmStream::RecordEvent(hal::plugin::EventImpl& event) {
  auto& rocm_event = static_cast<RocmEvent&>(event);
  absl::Status status = Submit(
      "hipEventRecord", [&] { return device_.api().hipEventRecord(rocm_event.handle(), stream_); });
  if (status.ok()) rocm_event.MarkRecorded();
  return status;
}

absl::Status RocmStream::WaitEvent(hal::plugin::EventImpl& event) {
  auto& rocm_event = static_cast<RocmEvent&>(event);
  // Waiting for an event that was never recorded waits for nothing.
  if (!rocm_event.recorded()) return absl::OkStatus();
  return Submit("hipStreamWaitEvent",
                [&] { return device_.api().hipStreamWaitEvent(stream_, rocm_event.handle(), 0); });
}

absl::Status RocmStream::Synchronize() {
  // The temporaries of copies queued so far; ones added while we wait belong
  // to work after this point and wait for the next Synchronize.
  std::vector<void*> temporaries;
  {
    absl::MutexLock lock(&mu_);
    temporaries.swap(temporaries_);
  }
  // Waits even when the stream already failed: work queued before the
  // failure may still read or write host memory, which the caller may free
  // as soon as this returns. Not under the lock: other threads may keep
  // queueing while we wait.
  const HipApi& api = device_.api();
  ScopedDevice scoped(device_);
  absl::Status status = scoped.status();
  if (status.ok()) {
    status = HipStatus(api, api.hipStreamSynchronize(stream_), "hipStreamSynchronize");
  }
  // Whether it succeeded or not, the wait returned: the stream is done with
  // these (without a wait they must stay until the next one).
  if (scoped.ok()) FreeTemporaries(temporaries);
  absl::MutexLock lock(&mu_);
  if (!scoped.ok()) {
    temporaries_.insert(temporaries_.end(), temporaries.begin(), temporaries.end());
  }
  if (!status.ok()) {
    // Whatever the code, a failed synchronize means queued work failed, so
    // it always sticks.
    absl::StatusCode code =
        IsRequestError(status.code()) ? absl::StatusCode::kInternal : status.code();
    return Fail(absl::Status(code, status.message()));
  }
  recent_kernels_.clear();
  return absl::OkStatus();
}

}  // namespace accel::rocm
