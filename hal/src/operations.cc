#include "operations.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace accel::hal::internal {
namespace {

// Holds reader locks on the buffers an operation uses, so no buffer can be
// freed while its handle is being passed to the plugin.
class BufferLocks {
 public:
  BufferLocks() = default;
  BufferLocks(const BufferLocks&) = delete;
  BufferLocks& operator=(const BufferLocks&) = delete;
  ~BufferLocks() {
    for (BufferState* b : locked_) b->mu.ReaderUnlock();
  }

  // Validates the view for use on `device` and locks its buffer; returns the
  // plugin handle, or the error that makes the view unusable.
  absl::StatusOr<AccelBuffer*> Acquire(const DeviceState& device, const BufferView& view,
                                       const char* what) {
    BufferState* b = view.buffer().state().get();
    if (b == nullptr)
      return absl::InvalidArgumentError(absl::StrCat(what, ": empty buffer handle"));
    if (absl::Status s = CheckSameDevice(device, *b->device, what); !s.ok()) return s;
    if (std::find(locked_.begin(), locked_.end(), b) == locked_.end()) {
      b->mu.ReaderLock();
      locked_.push_back(b);
    }
    AccelBuffer* handle = HandleOf(*b);
    if (handle == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(what, ": buffer was freed"));
    }
    return handle;
  }

 private:
  static AccelBuffer* HandleOf(BufferState& b) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return b.handle;  // the caller holds b.mu as a reader
  }
  std::vector<BufferState*> locked_;
};

absl::Status CheckHostSize(size_t host_size, const BufferView& view) {
  if (host_size != view.size()) {
    return absl::InvalidArgumentError(absl::StrCat("host range of ", host_size,
                                                   " bytes does not match device range of ",
                                                   view.size(), " bytes"));
  }
  return absl::OkStatus();
}

absl::Status CheckDim(const char* what, const Dim3& d, const Dim3& max) {
  if (d.x == 0 || d.y == 0 || d.z == 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s (%u, %u, %u) has a zero dimension", what, d.x, d.y, d.z));
  }
  if (d.x > max.x || d.y > max.y || d.z > max.z) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s (%u, %u, %u) exceeds the device limit (%u, %u, %u)", what, d.x, d.y,
                        d.z, max.x, max.y, max.z));
  }
  return absl::OkStatus();
}

absl::Status CheckLaunchShape(const DeviceProperties& p, const LaunchConfig& c) {
  if (absl::Status s = CheckDim("grid", c.grid, p.max_grid); !s.ok()) return s;
  if (absl::Status s = CheckDim("block", c.block, p.max_block); !s.ok()) return s;
  if (c.block.Volume() > p.max_threads_per_block) {
    return absl::InvalidArgumentError(absl::StrCat("block of ", c.block.Volume(),
                                                   " threads exceeds the device limit of ",
                                                   p.max_threads_per_block));
  }
  if (c.shared_memory_bytes > p.max_shared_memory_per_block) {
    return absl::InvalidArgumentError(
        absl::StrCat("dynamic shared memory of ", c.shared_memory_bytes,
                     " bytes exceeds the device limit of ", p.max_shared_memory_per_block));
  }
  return absl::OkStatus();
}

absl::Status CheckSignature(const KernelState& kernel, absl::Span<const KernelArg> args) {
  if (!kernel.signature.has_value()) return absl::OkStatus();
  const std::vector<ArgKind>& expected = *kernel.signature;
  if (args.size() != expected.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("kernel '", kernel.name, "' takes ", expected.size(), " arguments (",
                     FormatSignature(expected), "), got ", args.size()));
  }
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].kind() != expected[i]) {
      return absl::InvalidArgumentError(absl::StrCat("kernel '", kernel.name, "' argument ", i,
                                                     " must be ", ArgKindName(expected[i]),
                                                     ", got ", ArgKindName(args[i].kind())));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckSameDevice(const DeviceState& expected, const DeviceState& actual,
                             const char* what) {
  if (&expected != &actual) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " belongs to device ", actual.properties.id, ", not ", expected.properties.id));
  }
  return absl::OkStatus();
}

absl::Status EnqueueCopyToDevice(DeviceState& device, AccelStream* stream,
                                 absl::Span<const std::byte> src, const BufferView& dst) {
  BufferLocks locks;
  absl::StatusOr<AccelBuffer*> d = locks.Acquire(device, dst, "copy destination");
  if (!d.ok()) return d.status();
  if (absl::Status s = CheckHostSize(src.size(), dst); !s.ok()) return s;
  if (dst.size() == 0) return absl::OkStatus();
  return device.TakeError(
      device.api().stream_copy_host_to_device(stream, src.data(), *d, dst.offset(), dst.size()));
}

absl::Status EnqueueCopyToHost(DeviceState& device, AccelStream* stream, const BufferView& src,
                               absl::Span<std::byte> dst) {
  BufferLocks locks;
  absl::StatusOr<AccelBuffer*> s = locks.Acquire(device, src, "copy source");
  if (!s.ok()) return s.status();
  if (absl::Status st = CheckHostSize(dst.size(), src); !st.ok()) return st;
  if (src.size() == 0) return absl::OkStatus();
  return device.TakeError(
      device.api().stream_copy_device_to_host(stream, *s, src.offset(), dst.data(), src.size()));
}

absl::Status EnqueueCopy(DeviceState& device, AccelStream* stream, const BufferView& src,
                         const BufferView& dst) {
  BufferLocks locks;
  absl::StatusOr<AccelBuffer*> s = locks.Acquire(device, src, "copy source");
  if (!s.ok()) return s.status();
  absl::StatusOr<AccelBuffer*> d = locks.Acquire(device, dst, "copy destination");
  if (!d.ok()) return d.status();
  if (src.size() != dst.size()) {
    return absl::InvalidArgumentError(absl::StrCat("copy source of ", src.size(),
                                                   " bytes does not match destination of ",
                                                   dst.size(), " bytes"));
  }
  if (src.size() == 0) return absl::OkStatus();
  return device.TakeError(device.api().stream_copy_device_to_device(stream, *s, src.offset(), *d,
                                                                    dst.offset(), src.size()));
}

absl::Status EnqueueFill(DeviceState& device, AccelStream* stream, const BufferView& dst,
                         const void* pattern, size_t pattern_size) {
  BufferLocks locks;
  absl::StatusOr<AccelBuffer*> d = locks.Acquire(device, dst, "fill destination");
  if (!d.ok()) return d.status();
  if (pattern == nullptr || (pattern_size != 1 && pattern_size != 2 && pattern_size != 4)) {
    return absl::InvalidArgumentError(
        absl::StrCat("fill pattern must be 1, 2 or 4 bytes, got ", pattern_size));
  }
  if (dst.size() % pattern_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fill of ", dst.size(), " bytes is not a multiple of the ", pattern_size, "-byte pattern"));
  }
  if (dst.size() == 0) return absl::OkStatus();
  return device.TakeError(device.api().stream_fill(stream, *d, dst.offset(), dst.size(), pattern,
                                                   static_cast<uint32_t>(pattern_size)));
}

absl::Status EnqueueLaunch(DeviceState& device, AccelStream* stream, const Kernel& kernel,
                           const LaunchConfig& config, absl::Span<const KernelArg> args) {
  const KernelState* k = kernel.state().get();
  if (k == nullptr) return absl::InvalidArgumentError("launch: empty kernel handle");
  if (absl::Status s = CheckSameDevice(device, *k->module->device, "kernel"); !s.ok()) return s;
  if (absl::Status s = CheckLaunchShape(device.properties, config); !s.ok()) return s;
  if (absl::Status s = CheckSignature(*k, args); !s.ok()) return s;

  BufferLocks locks;
  std::vector<AccelKernelArg> converted(args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    const KernelArg& a = args[i];
    AccelKernelArg& c = converted[i];
    c.kind = static_cast<uint32_t>(a.kind());
    switch (a.kind()) {
      case ArgKind::kBuffer: {
        std::string what = absl::StrCat("kernel '", k->name, "' argument ", i);
        absl::StatusOr<AccelBuffer*> b = locks.Acquire(device, a.view(), what.c_str());
        if (!b.ok()) return b.status();
        c.value.buffer.buffer = *b;
        c.value.buffer.offset = a.view().offset();
        c.value.buffer.size = a.view().size();
        break;
      }
      case ArgKind::kBytes:
        c.value.bytes.data = a.bytes().data();
        c.value.bytes.size = a.bytes().size();
        break;
      default:
        c.value.u64 = a.scalar_bits();
        break;
    }
  }
  AccelLaunchConfig c{};
  c.struct_size = sizeof(c);
  c.grid[0] = config.grid.x;
  c.grid[1] = config.grid.y;
  c.grid[2] = config.grid.z;
  c.block[0] = config.block.x;
  c.block[1] = config.block.y;
  c.block[2] = config.block.z;
  c.shared_memory_bytes = config.shared_memory_bytes;
  return device.TakeError(
      device.api().stream_launch(stream, k->handle, &c, converted.data(), converted.size()));
}

}  // namespace accel::hal::internal
