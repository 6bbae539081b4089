// The session's handle table and the lease's memory quota: creating,
// finding and destroying buffers, streams, events, modules and kernels.
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "pool/worker/session.h"

namespace accel::pool {
namespace {

// RESOURCE_EXHAUSTED when the session holds the most `what` it may.
absl::Status Room(size_t held, size_t most, const char* what) {
  if (held < most) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      absl::StrCat("session holds the maximum of ", most, " ", what));
}

}  // namespace

absl::StatusOr<hal::Device> Session::DeviceAt(uint32_t index) {
  if (index >= config_.devices.size()) {
    return absl::InvalidArgumentError(absl::StrCat("device ", index, " is not in the lease (",
                                                   config_.devices.size(), " devices)"));
  }
  if (!config_.devices[index].valid()) {
    return absl::InvalidArgumentError(
        absl::StrCat("device ", index, " of the lease is on node ",
                     config_.lease.devices(static_cast<int>(index)).device().node(),
                     ", not this one: open a session there"));
  }
  return config_.devices[index];
}

absl::StatusOr<hal::BufferView> Session::Resolve(const v1::BufferRange& range) {
  absl::StatusOr<BufferEntry> entry = Lookup<BufferEntry>(range.buffer(), "buffer");
  if (!entry.ok()) return entry.status();
  return entry->buffer.View(range.offset(), range.size());
}

absl::Status Session::AddHandle(uint64_t handle, Entry entry) {
  if (handle == 0) return absl::InvalidArgumentError("handle 0 is reserved");
  if (handles_.size() + failed_.size() >= config_.max_handles) {
    return absl::ResourceExhaustedError(
        absl::StrCat("session holds the maximum of ", config_.max_handles, " handles"));
  }
  if (!handles_.emplace(handle, std::move(entry)).second) {
    return absl::AlreadyExistsError(absl::StrCat("handle ", handle, " is already in use"));
  }
  return absl::OkStatus();
}

absl::Status Session::Allocate(const v1::AllocateBuffer& op) {
  absl::StatusOr<hal::Device> device = DeviceAt(op.device());
  if (!device.ok()) return device.status();
  if (handles_.count(op.handle()) != 0) {
    return absl::AlreadyExistsError(absl::StrCat("handle ", op.handle(), " is already in use"));
  }
  // Enforce the lease's quota exactly: reserve before allocating. Memory
  // the client freed may still be in use by its queued work: as a device
  // runtime's free does, wait for it before saying there is no room.
  absl::Status reserved = Reserve(op.device(), op.size(), "requested");
  if (!reserved.ok()) {
    AwaitReturns(op.device());
    reserved = Reserve(op.device(), op.size(), "requested");
  }
  if (!reserved.ok()) return reserved;
  absl::StatusOr<hal::Buffer> buffer = device->Allocate(op.size());
  absl::Status added = buffer.ok()
                           ? AddHandle(op.handle(), BufferEntry{*buffer, op.device(), op.size()})
                           : buffer.status();
  if (!added.ok()) {
    used_[op.device()] -= op.size();
    return added;
  }
  ReportMemory();
  return absl::OkStatus();
}

absl::Status Session::Reserve(uint32_t device, uint64_t bytes, const char* what) {
  std::atomic<uint64_t>& used = used_[device];
  const uint64_t quota = config_.quotas[device];
  uint64_t before = used.load();
  do {
    if (bytes > quota - before) {
      return absl::ResourceExhaustedError(
          absl::StrCat("lease ", lease_id(), " memory quota on device ", device, ": ", what, " ",
                       hal::FormatByteSize(bytes), ", in use ", hal::FormatByteSize(before), " of ",
                       hal::FormatByteSize(quota)));
    }
  } while (!used.compare_exchange_weak(before, before + bytes));
  return absl::OkStatus();
}

namespace {

// Returns its bytes to the quota when the last operation holding it is gone.
class PendingReturn {
 public:
  PendingReturn(std::atomic<uint64_t>& used, absl::Mutex& mu,
                std::map<uint32_t, uint64_t>& returning, uint32_t device, uint64_t bytes,
                std::function<void()> returned)
      : used_(used),
        mu_(mu),
        returning_(returning),
        device_(device),
        bytes_(bytes),
        returned_(std::move(returned)) {}
  ~PendingReturn() {
    used_ -= bytes_;
    {
      absl::MutexLock lock(&mu_);
      if ((returning_[device_] -= bytes_) == 0) returning_.erase(device_);
    }
    returned_();
  }

 private:
  std::atomic<uint64_t>& used_;
  absl::Mutex& mu_;
  std::map<uint32_t, uint64_t>& returning_;
  const uint32_t device_;
  const uint64_t bytes_;
  const std::function<void()> returned_;
};

}  // namespace

void Session::ReturnWhenUnused(uint32_t device, uint64_t bytes) {
  {
    absl::MutexLock lock(&returns_mu_);
    returning_[device] += bytes;
  }
  auto pending = std::make_shared<PendingReturn>(used_[device], returns_mu_, returning_, device,
                                                 bytes, [this] { ReportMemory(); });
  // Every stream's work queued so far may use the buffer: a fence on each
  // waits for it on the device. Streams being destroyed drain on the wait
  // queue, so the last hold goes through it too.
  for (auto& [handle, entry] : handles_) {
    if (auto* worker = std::get_if<std::shared_ptr<StreamWorker>>(&entry)) {
      (*worker)->Enqueue(
          [pending](StreamWorker& w, const absl::Status&) {
            w.Synchronize().IgnoreError();  // a failed stream no longer uses it either
            return absl::OkStatus();
          },
          /*bytes=*/256);
    }
  }
  waits_->Post([pending]() mutable { pending.reset(); });
}

void Session::AwaitReturns(uint32_t device) {
  absl::MutexLock lock(&returns_mu_);
  auto returned = [this, device]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(returns_mu_) {
    return returning_.count(device) == 0;
  };
  // Bounded: a stream stuck on an event the client never records must not
  // hold the reader forever.
  returns_mu_.AwaitWithTimeout(absl::Condition(&returned), absl::Seconds(10));
}

absl::Status Session::CreateStream(const v1::CreateStream& op) {
  absl::StatusOr<hal::Device> device = DeviceAt(op.device());
  if (!device.ok()) return device.status();
  if (absl::Status s = Room(streams_, config_.max_streams, "streams"); !s.ok()) return s;
  absl::StatusOr<hal::Stream> stream = device->CreateStream();
  if (!stream.ok()) return stream.status();
  absl::Status added = AddHandle(
      op.handle(),
      std::make_shared<StreamWorker>(
          *std::move(stream),
          op.device() < config_.turns.size() ? config_.turns[op.device()] : nullptr, *threads_));
  if (added.ok()) ++streams_;
  return added;
}

absl::Status Session::CreateEvent(const v1::CreateEvent& op) {
  absl::StatusOr<hal::Device> device = DeviceAt(op.device());
  if (!device.ok()) return device.status();
  if (absl::Status s = Room(events_, config_.max_events, "events"); !s.ok()) return s;
  absl::StatusOr<hal::Event> event = device->CreateEvent();
  if (!event.ok()) return event.status();
  absl::Status added =
      AddHandle(op.handle(), EventEntry{*std::move(event), std::make_shared<EventTrack>()});
  if (added.ok()) ++events_;
  return added;
}

absl::Status Session::LoadModule(v1::LoadModule& op) {
  absl::StatusOr<hal::Device> device = DeviceAt(op.device());
  if (!device.ok()) return device.status();
  if (!hal::IsKnownImageFormat(op.format())) {
    return absl::InvalidArgumentError(absl::StrCat("unknown image format ", op.format()));
  }
  const auto format = static_cast<hal::ImageFormat>(op.format());
  if (format == hal::ImageFormat::kHostElf && !config_.allow_host_kernels) {
    // host-elf images are native code that would run inside poold.
    return absl::PermissionDeniedError(
        "this node does not run host-elf kernels from clients (poold --allow_host_kernels)");
  }
  std::shared_ptr<const std::string> image;
  if (!op.has_image()) {
    image = cache_.Get(op.sha256());
    if (image == nullptr) {
      return absl::NotFoundError(absl::StrCat("module image ",
                                              absl::BytesToHexString(op.sha256()).substr(0, 16),
                                              " is not cached on this node"));
    }
  } else {
    std::string digest = cache_.Put(std::move(*op.mutable_image()));
    if (!op.sha256().empty() && digest != op.sha256()) {
      return absl::InvalidArgumentError("module image does not match its SHA-256");
    }
    image = cache_.Get(digest);
    if (image == nullptr) return absl::InternalError("module cache lost a fresh image");
  }
  if (absl::Status s = Room(modules_, config_.max_modules, "modules"); !s.ok()) return s;
  // The loaded code takes device memory about the image's size.
  if (absl::Status s = Reserve(op.device(), image->size(), "a module image of"); !s.ok()) {
    return s;
  }
  absl::StatusOr<hal::Module> module = device->LoadModule(format, *image);
  absl::Status added =
      module.ok()
          ? AddHandle(op.handle(), ModuleEntry{*std::move(module), op.device(), image->size()})
          : module.status();
  if (!added.ok()) {
    used_[op.device()] -= image->size();
    return added;
  }
  ++modules_;
  ReportMemory();
  return absl::OkStatus();
}

absl::StatusOr<hal::Kernel> Session::GetKernel(const v1::GetKernel& op) {
  absl::StatusOr<ModuleEntry> module = Lookup<ModuleEntry>(op.module(), "module");
  if (!module.ok()) return module.status();
  absl::StatusOr<hal::Kernel> kernel = module->module.GetKernel(op.name());
  if (!kernel.ok()) return kernel.status();
  if (absl::Status s = AddHandle(op.handle(), *kernel); !s.ok()) return s;
  return kernel;
}

absl::StatusOr<hal::Buffer> Session::GetGlobal(const v1::GetGlobal& op) {
  absl::StatusOr<ModuleEntry> module = Lookup<ModuleEntry>(op.module(), "module");
  if (!module.ok()) return module.status();
  absl::StatusOr<hal::Buffer> global = module->module.GetGlobal(op.name());
  if (!global.ok()) return global.status();
  if (absl::Status s = AddHandle(op.handle(), BufferEntry{*global, module->device, 0}); !s.ok()) {
    return s;
  }
  return global;
}

absl::Status Session::Destroy(const v1::Destroy& op) {
  if (failed_.erase(op.handle()) != 0) return absl::OkStatus();
  auto it = handles_.find(op.handle());
  if (it == handles_.end()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown handle ", op.handle()));
  }
  if (std::holds_alternative<std::shared_ptr<StreamWorker>>(it->second)) {
    // Its queued work finishes off the reader (a wait in it may need later
    // commands), then the worker goes.
    waits_->PostResumable([worker = std::get<std::shared_ptr<StreamWorker>>(it->second),
                           waker = waits_->waker()]() mutable {
      if (!worker->Idle()) {
        worker->NotifyWhenIdle(waker);
        return SerialExecutor::Step::kWaiting;
      }
      worker.reset();
      return SerialExecutor::Step::kDone;
    });
    --streams_;
  }
  if (std::holds_alternative<EventEntry>(it->second)) --events_;
  if (const ModuleEntry* m = std::get_if<ModuleEntry>(&it->second)) {
    used_[m->device] -= m->charged;
    --modules_;
    ReportMemory();
  }
  if (const BufferEntry* b = std::get_if<BufferEntry>(&it->second)) {
    if (b->charged != 0) ReturnWhenUnused(b->device, b->charged);
  }
  handles_.erase(it);
  return absl::OkStatus();
}

}  // namespace accel::pool
