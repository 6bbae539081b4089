#include "host_stream.h"

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "host_event.h"
#include "host_memory.h"
#include "host_module.h"

namespace accel::host {
namespace {

const std::shared_ptr<HostMemory>& MemoryOf(hal::plugin::BufferImpl& buffer) {
  return static_cast<HostBuffer&>(buffer).memory();
}

}  // namespace

HostStream::HostStream(ThreadPool& pool, ExecutorThreads& threads)
    : pool_(pool), executor_(threads) {}

HostStream::~HostStream() = default;  // the executor drains the queue first

absl::Status HostStream::Failure() {
  if (!failed_.load(std::memory_order_acquire)) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  return hal::plugin::StreamFailure(failure_);
}

absl::Status HostStream::Enqueue(std::function<absl::Status()> run, bool runs_after_failure) {
  if (absl::Status failure = Failure(); !failure.ok()) return failure;
  executor_.PostResumable([this, run = std::move(run), runs_after_failure] {
    if (failed_.load(std::memory_order_acquire) && !runs_after_failure) {
      return SerialExecutor::Step::kDone;
    }
    absl::Status status = run();
    if (!status.ok()) {
      absl::MutexLock lock(&mu_);
      if (failure_.ok()) failure_ = std::move(status);
      failed_.store(true, std::memory_order_release);
    }
    return SerialExecutor::Step::kDone;
  });
  return absl::OkStatus();
}

absl::Status HostStream::Synchronize() {
  executor_.Drain();
  return Failure();
}

absl::Status HostStream::CopyHostToDevice(const void* src, hal::plugin::BufferImpl& dst,
                                          uint64_t dst_offset, uint64_t size) {
  return Enqueue([src, memory = MemoryOf(dst), dst_offset, size] {
    std::memcpy(memory->data() + dst_offset, src, size);
    return absl::OkStatus();
  });
}

absl::Status HostStream::CopyDeviceToHost(hal::plugin::BufferImpl& src, uint64_t src_offset,
                                          void* dst, uint64_t size) {
  return Enqueue([memory = MemoryOf(src), src_offset, dst, size] {
    std::memcpy(dst, memory->data() + src_offset, size);
    return absl::OkStatus();
  });
}

absl::Status HostStream::CopyDeviceToDevice(hal::plugin::BufferImpl& src, uint64_t src_offset,
                                            hal::plugin::BufferImpl& dst, uint64_t dst_offset,
                                            uint64_t size) {
  return Enqueue([from = MemoryOf(src), src_offset, to = MemoryOf(dst), dst_offset, size] {
    // memmove: source and destination may be overlapping ranges of one buffer.
    std::memmove(to->data() + dst_offset, from->data() + src_offset, size);
    return absl::OkStatus();
  });
}

absl::Status HostStream::Fill(hal::plugin::BufferImpl& dst, uint64_t offset, uint64_t size,
                              uint32_t pattern, uint32_t pattern_size) {
  return Enqueue([memory = MemoryOf(dst), offset, size, pattern, pattern_size] {
    std::byte* p = memory->data() + offset;
    if (pattern_size == 1) {
      std::memset(p, static_cast<int>(pattern & 0xff), size);
    } else {
      for (uint64_t i = 0; i < size; i += pattern_size) std::memcpy(p + i, &pattern, pattern_size);
    }
    return absl::OkStatus();
  });
}

absl::Status HostStream::Launch(hal::plugin::KernelImpl& kernel, const AccelLaunchConfig& config,
                                absl::Span<const hal::plugin::LaunchArg> args) {
  auto& host_kernel = static_cast<HostKernel&>(kernel);
  // Everything the launch needs is captured now: the caller's argument
  // storage is gone by the time the stream runs it.
  struct Captured {
    std::vector<AccelHostKernelArg> args;
    std::vector<std::string> bytes;
    std::vector<std::shared_ptr<HostMemory>> memories;
  };
  auto captured = std::make_shared<Captured>();
  captured->args.resize(args.size());
  captured->bytes.reserve(args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    const hal::plugin::LaunchArg& a = args[i];
    AccelHostKernelArg& c = captured->args[i];
    c.kind = a.kind;
    c.size = a.size;
    if (a.kind == ACCEL_ARG_BUFFER) {
      const std::shared_ptr<HostMemory>& memory = MemoryOf(*a.buffer);
      captured->memories.push_back(memory);
      c.value.ptr = memory->data() + a.offset;
    } else if (a.kind == ACCEL_ARG_BYTES) {
      captured->bytes.emplace_back(static_cast<const char*>(a.data), a.size);
      c.value.data = captured->bytes.back().data();
    } else {
      std::memcpy(&c.value, a.data, a.size);
    }
  }
  return Enqueue(
      [this, module = host_kernel.module(), desc = host_kernel.desc(), config, captured] {
        const AccelHostDim3 grid{config.grid[0], config.grid[1], config.grid[2]};
        const AccelHostDim3 block{config.block[0], config.block[1], config.block[2]};
        const uint64_t blocks = uint64_t{grid.x} * grid.y * grid.z;
        absl::Mutex error_mu;
        absl::Status error;
        std::atomic<bool> failed{false};
        pool_.ParallelFor(blocks, [&](uint64_t begin, uint64_t end) {
          std::vector<std::byte> shared(config.shared_memory_bytes);
          AccelHostKernelContext ctx{};
          ctx.struct_size = sizeof(ctx);
          ctx.grid_dim = grid;
          ctx.block_dim = block;
          ctx.shared_memory = shared.empty() ? nullptr : shared.data();
          ctx.shared_memory_bytes = shared.size();
          ctx.args = captured->args.data();
          ctx.num_args = captured->args.size();
          for (uint64_t b = begin; b < end && !failed.load(std::memory_order_relaxed); ++b) {
            ctx.block_idx = {static_cast<uint32_t>(b % grid.x),
                             static_cast<uint32_t>(b / grid.x % grid.y),
                             static_cast<uint32_t>(b / (uint64_t{grid.x} * grid.y))};
            if (!shared.empty()) std::memset(shared.data(), 0, shared.size());
            int32_t code = desc->fn(&ctx);
            if (code != 0) {
              failed.store(true);
              absl::MutexLock lock(&error_mu);
              if (error.ok()) {
                if (code < 0 || code > 16) code = static_cast<int32_t>(absl::StatusCode::kUnknown);
                error = absl::Status(
                    static_cast<absl::StatusCode>(code),
                    absl::StrFormat("host kernel '%s' failed in block (%u, %u, %u) with code %d",
                                    desc->name, ctx.block_idx.x, ctx.block_idx.y, ctx.block_idx.z,
                                    code));
              }
            }
          }
        });
        absl::MutexLock lock(&error_mu);
        return error;
      });
}

absl::Status HostStream::RecordEvent(hal::plugin::EventImpl& event) {
  std::shared_ptr<EventCore> core = static_cast<HostEvent&>(event).core();
  uint64_t generation = core->BeginRecord();
  absl::Status queued = Enqueue(
      [core, generation] {
        core->Complete(generation);
        return absl::OkStatus();
      },
      /*runs_after_failure=*/true);
  // A stream that had already failed never queues the record; complete it so
  // nobody waits forever.
  if (!queued.ok()) core->Complete(generation);
  return queued;
}

absl::Status HostStream::WaitEvent(hal::plugin::EventImpl& event) {
  std::shared_ptr<EventCore> core = static_cast<HostEvent&>(event).core();
  uint64_t generation = core->last_recorded();
  if (generation == 0) return absl::OkStatus();
  if (absl::Status failure = Failure(); !failure.ok()) return failure;
  // The record may belong to a stream queued behind this one on the shared
  // threads: wait without holding a thread, woken by the record.
  executor_.PostResumable([this, core, generation, waker = executor_.waker()] {
    if (failed_.load(std::memory_order_acquire)) return SerialExecutor::Step::kDone;
    return core->NotifyWhenComplete(generation, waker) ? SerialExecutor::Step::kWaiting
                                                       : SerialExecutor::Step::kDone;
  });
  return absl::OkStatus();
}

}  // namespace accel::host
