#include "cuda_stream.h"

#include <cstring>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "cuda_context.h"
#include "cuda_device.h"
#include "cuda_errors.h"
#include "cuda_event.h"
#include "cuda_memory.h"
#include "cuda_module.h"

namespace accel::cuda {
namespace {

CudaBuffer& AsCuda(hal::plugin::BufferImpl& buffer) { return static_cast<CudaBuffer&>(buffer); }

// Kernels get 48 KiB of dynamic shared memory without opting in.
constexpr uint64_t kDefaultSharedLimit = 48 * 1024;

// Without the driver's parameter layout, raw bytes are copied into a buffer
// at least this large, so a kernel whose struct parameter is larger than the
// bytes given reads zeros instead of past our copy (4 KiB was the parameter
// limit before CUDA 12.1).
constexpr size_t kUnknownLayoutBytesPad = 4096;

const char* KindName(AccelArgKind kind) {
  switch (kind) {
    case ACCEL_ARG_BUFFER:
      return "buffer";
    case ACCEL_ARG_I32:
      return "i32";
    case ACCEL_ARG_U32:
      return "u32";
    case ACCEL_ARG_I64:
      return "i64";
    case ACCEL_ARG_U64:
      return "u64";
    case ACCEL_ARG_F32:
      return "f32";
    case ACCEL_ARG_F64:
      return "f64";
    case ACCEL_ARG_BYTES:
      return "bytes";
  }
  return "unknown";
}

}  // namespace

absl::StatusOr<std::unique_ptr<CudaStream>> CudaStream::Create(CudaDevice& device) {
  const Driver& driver = device.driver();
  ContextGuard guard(driver, device.context());
  if (!guard.ok()) return guard.status();
  CUstream stream = nullptr;
  if (absl::Status s = ToStatus(driver, driver.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING),
                                "cuStreamCreate");
      !s.ok()) {
    return s;
  }
  device.releases().AddStream(stream);
  return std::unique_ptr<CudaStream>(new CudaStream(device, stream));
}

CudaStream::~CudaStream() {
  const Driver& driver = device_.driver();
  ContextGuard guard(driver, device_.context());
  // stream_destroy cannot report errors: an asynchronous failure the
  // application never synchronized for is dropped with the stream, as it
  // would be with cudaStreamDestroy.
  if (guard.ok()) driver.cuStreamSynchronize(stream_);
  device_.releases().RemoveStream(stream_);
  if (guard.ok()) driver.cuStreamDestroy(stream_);
}

absl::Status CudaStream::Check(CUresult result, const char* call) {
  if (result == CUDA_SUCCESS) return absl::OkStatus();
  absl::Status status = ToStatus(device_.driver(), result, call);
  return IsContextFatal(result) ? hal::plugin::StreamFailure(std::move(status)) : status;
}

absl::Status CudaStream::CopyHostToDevice(const void* src, hal::plugin::BufferImpl& dst,
                                          uint64_t dst_offset, uint64_t size) {
  if (size == 0) return absl::OkStatus();
  const Driver& driver = device_.driver();
  ContextGuard guard(driver, device_.context());
  if (!guard.ok()) return guard.status();
  return Check(driver.cuMemcpyHtoDAsync(AsCuda(dst).ptr() + dst_offset, src, size, stream_),
               "cuMemcpyHtoDAsync");
}

absl::Status CudaStream::CopyDeviceToHost(hal::plugin::BufferImpl& src, uint64_t src_offset,
                                          void* dst, uint64_t size) {
  if (size == 0) return absl::OkStatus();
  const Driver& driver = device_.driver();
  ContextGuard guard(driver, device_.context());
  if (!guard.ok()) return guard.status();
  return Check(driver.cuMemcpyDtoHAsync(dst, AsCuda(src).ptr() + src_offset, size, stream_),
               "cuMemcpyDtoHAsync");
}

absl::Status CudaStream::CopyDeviceToDevice(hal::plugin::BufferImpl& src, uint64_t src_offset,
                                            hal::plugin::BufferImpl& dst, uint64_t dst_offset,
                                            uint64_t size) {
  if (size == 0) return absl::OkStatus();
  const Driver& driver = device_.driver();
  ContextGuard guard(driver, device_.context());
  if (!guard.ok()) return guard.status();
  const CUdeviceptr from = AsCuda(src).ptr() + src_offset;
  const CUdeviceptr to = AsCuda(dst).ptr() + dst_offset;
  const bool overlap = from < to + size && to < from + size;
  if (!overlap) {
    return Check(driver.cuMemcpyDtoDAsync(to, from, size, stream_), "cuMemcpyDtoDAsync");
  }
  if (from == to) return absl::OkStatus();
  // CUDA leaves overlapping copies undefined, the HAL specifies memmove:
  // go through a temporary, freed once this stream has used it.
  CUdeviceptr temp = 0;
  if (absl::Status s = ToStatus(driver, driver.cuMemAlloc(&temp, size), "cuMemAlloc (temporary)");
      !s.ok()) {
    return s;
  }
  absl::Status status =
      Check(driver.cuMemcpyDtoDAsync(temp, from, size, stream_), "cuMemcpyDtoDAsync");
  if (status.ok()) {
    status = Check(driver.cuMemcpyDtoDAsync(to, temp, size, stream_), "cuMemcpyDtoDAsync");
  }
  device_.releases().Release([&driver, temp] { driver.cuMemFree(temp); });
  return status;
}

absl::Status CudaStream::Fill(hal::plugin::BufferImpl& dst, uint64_t offset, uint64_t size,
                              uint32_t pattern, uint32_t pattern_size) {
  if (size == 0) return absl::OkStatus();
  const Driver& driver = device_.driver();
  ContextGuard guard(driver, device_.context());
  if (!guard.ok()) return guard.status();
  const CUdeviceptr ptr = AsCuda(dst).ptr() + offset;
  switch (pattern_size) {
    case 1:
      return Check(driver.cuMemsetD8Async(ptr, static_cast<unsigned char>(pattern), size, stream_),
                   "cuMemsetD8Async");
    case 2:
      if (ptr % 2 != 0) return FillUnaligned(ptr, size, pattern, pattern_size);
      return Check(
          driver.cuMemsetD16Async(ptr, static_cast<unsigned short>(pattern), size / 2, stream_),
          "cuMemsetD16Async");
    case 4:
      if (ptr % 4 != 0) return FillUnaligned(ptr, size, pattern, pattern_size);
      return Check(driver.cuMemsetD32Async(ptr, pattern, size / 4, stream_), "cuMemsetD32Async");
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("fill pattern size must be 1, 2 or 4 bytes, not ", pattern_size));
  }
}

absl::Status CudaStream::FillUnaligned(CUdeviceptr dst, uint64_t size, uint32_t pattern,
                                       uint32_t pattern_size) {
  const Driver& driver = device_.driver();
  unsigned char bytes[4];
  std::memcpy(bytes, &pattern, sizeof(bytes));
  // One byte-wise memset per pattern byte writes the first element; each copy
  // then doubles the filled prefix, so a fill takes O(log size) operations.
  for (uint32_t i = 0; i < pattern_size; ++i) {
    if (absl::Status s =
            Check(driver.cuMemsetD8Async(dst + i, bytes[i], 1, stream_), "cuMemsetD8Async");
        !s.ok()) {
      return s;
    }
  }
  for (uint64_t done = pattern_size; done < size;) {
    uint64_t n = std::min(done, size - done);
    if (absl::Status s =
            Check(driver.cuMemcpyDtoDAsync(dst + done, dst, n, stream_), "cuMemcpyDtoDAsync");
        !s.ok()) {
      return s;
    }
    done += n;
  }
  return absl::OkStatus();
}

absl::Status CudaStream::Launch(hal::plugin::KernelImpl& kernel_impl,
                                const AccelLaunchConfig& config,
                                absl::Span<const hal::plugin::LaunchArg> args) {
  auto& kernel = static_cast<CudaKernel&>(kernel_impl);

  if (kernel.layout_known()) {
    const std::vector<AccelKernelParameter>& params = kernel.params();
    if (args.size() != params.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("kernel '", kernel.name(), "' takes ", params.size(),
                       " arguments, the launch passes ", args.size()));
    }
    for (size_t i = 0; i < args.size(); ++i) {
      uint64_t given = args[i].kind == ACCEL_ARG_BUFFER ? sizeof(CUdeviceptr) : args[i].size;
      if (given != params[i].size) {
        return absl::InvalidArgumentError(absl::StrCat(
            "argument ", i, " of kernel '", kernel.name(), "' is ", given, " bytes (",
            KindName(args[i].kind), "), the kernel's parameter is ", params[i].size, " bytes"));
      }
    }
  }

  // cuLaunchKernel reads every parameter through a pointer and copies the
  // values before it returns, so storage on this frame is enough.
  absl::InlinedVector<uint64_t, 16> values(args.size(), 0);
  absl::InlinedVector<void*, 16> params(args.size(), nullptr);
  std::vector<std::vector<unsigned char>> bytes;
  for (size_t i = 0; i < args.size(); ++i) {
    const hal::plugin::LaunchArg& a = args[i];
    if (a.kind == ACCEL_ARG_BUFFER) {
      CUdeviceptr ptr = AsCuda(*a.buffer).ptr() + a.offset;
      std::memcpy(&values[i], &ptr, sizeof(ptr));
      params[i] = &values[i];
    } else if (a.kind == ACCEL_ARG_BYTES) {
      size_t room =
          kernel.layout_known() ? a.size : std::max<size_t>(a.size, kUnknownLayoutBytesPad);
      bytes.emplace_back(std::max<size_t>(room, 1), 0);
      if (a.size > 0) std::memcpy(bytes.back().data(), a.data, a.size);
      params[i] = bytes.back().data();
    } else {
      if (a.size > sizeof(uint64_t)) {
        return absl::InvalidArgumentError(
            absl::StrCat("argument ", i, " is a scalar of ", a.size, " bytes"));
      }
      std::memcpy(&values[i], a.data, a.size);
      params[i] = &values[i];
    }
  }

  const Driver& driver = device_.driver();
  ContextGuard guard(driver, device_.context());
  if (!guard.ok()) return guard.status();
  if (config.shared_memory_bytes > kDefaultSharedLimit) {
    if (absl::Status s = kernel.EnsureSharedMemory(driver, config.shared_memory_bytes); !s.ok()) {
      return s;
    }
  }
  CUresult r = driver.cuLaunchKernel(
      kernel.function(), config.grid[0], config.grid[1], config.grid[2], config.block[0],
      config.block[1], config.block[2], static_cast<unsigned int>(config.shared_memory_bytes),
      stream_, params.empty() ? nullptr : params.data(), nullptr);
  if (r != CUDA_SUCCESS) {
    absl::Status s = Check(r, "cuLaunchKernel");
    absl::Status named(s.code(), absl::StrCat("kernel '", kernel.name(), "': ", s.message()));
    return hal::plugin::IsStreamFailure(s) ? hal::plugin::StreamFailure(std::move(named)) : named;
  }
  absl::MutexLock lock(&mu_);
  if (last_kernel_ != kernel.name()) last_kernel_ = kernel.name();
  return absl::OkStatus();
}

absl::Status CudaStream::RecordEvent(hal::plugin::EventImpl& event_impl) {
  auto& event = static_cast<CudaEvent&>(event_impl);
  const Driver& driver = device_.driver();
  ContextGuard guard(driver, device_.context());
  if (!guard.ok()) return guard.status();
  absl::Status s = Check(driver.cuEventRecord(event.event(), stream_), "cuEventRecord");
  if (s.ok()) event.MarkRecorded();
  return s;
}

absl::Status CudaStream::WaitEvent(hal::plugin::EventImpl& event_impl) {
  auto& event = static_cast<CudaEvent&>(event_impl);
  const Driver& driver = device_.driver();
  ContextGuard guard(driver, device_.context());
  if (!guard.ok()) return guard.status();
  return Check(driver.cuStreamWaitEvent(stream_, event.event(), 0), "cuStreamWaitEvent");
}

absl::Status CudaStream::Synchronize() {
  const Driver& driver = device_.driver();
  ContextGuard guard(driver, device_.context());
  if (!guard.ok()) return guard.status();
  CUresult r = driver.cuStreamSynchronize(stream_);
  // Work is done: objects freed while it ran can go now.
  device_.releases().Collect(/*wait=*/false);
  if (r == CUDA_SUCCESS) return absl::OkStatus();
  // An asynchronous failure of this stream's work (or of the context).
  absl::Status s = ToStatus(driver, r, "cuStreamSynchronize");
  absl::MutexLock lock(&mu_);
  return hal::plugin::StreamFailure(absl::Status(
      s.code(), last_kernel_.empty()
                    ? std::string(s.message())
                    : absl::StrCat(s.message(), " (last kernel queued: '", last_kernel_, "')")));
}

}  // namespace accel::cuda
