#include "pool/worker/session.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "pool/common/status_convert.h"
#include "pool/common/version.h"

namespace accel::pool {
namespace {

hal::Dim3 ToDim3(const v1::Dim3& d) { return {d.x(), d.y(), d.z()}; }

}  // namespace

uint64_t EventTrack::Dispatch() {
  absl::MutexLock lock(&mu_);
  return ++dispatched_;
}

uint64_t EventTrack::dispatched() {
  absl::MutexLock lock(&mu_);
  return dispatched_;
}

absl::Status EventTrack::Apply(uint64_t generation, const std::function<absl::Status()>& record) {
  // Held across the HAL record (a quick enqueue), so two streams' records of
  // one event take effect in the client's order.
  absl::MutexLock lock(&mu_);
  absl::Status status;
  if (record && generation > applied_) status = record();
  applied_ = std::max(applied_, generation);
  return status;
}

void EventTrack::WaitApplied(uint64_t generation) {
  absl::MutexLock lock(&mu_);
  auto reached = [this, generation]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return applied_ >= generation; };
  mu_.Await(absl::Condition(&reached));
}

bool EventTrack::AllApplied() {
  absl::MutexLock lock(&mu_);
  return applied_ >= dispatched_;
}

Session::Session(Config config, ModuleCache& cache, std::shared_ptr<SessionLink> link,
                 UsageReporter usage)
    : config_(std::move(config)),
      cache_(cache),
      link_(std::move(link)),
      usage_(std::move(usage)),
      used_(new std::atomic<uint64_t>[config_.devices.size()]),
      waits_(std::make_unique<SerialQueue>()) {
  for (size_t i = 0; i < config_.devices.size(); ++i) used_[i] = 0;
}

Session::~Session() {
  // Blocking waits first (they may reference handles), then every handle:
  // stream workers drain their queued work before they go.
  waits_.reset();
  handles_.clear();
  failed_.clear();
  ReportUsage(/*at_once=*/true);  // all memory freed
}

void Session::ReportUsage(bool at_once) {
  if (!usage_) return;
  const auto now = std::chrono::steady_clock::now();
  {
    absl::MutexLock lock(&report_mu_);
    if (!at_once && now - last_report_ < std::chrono::milliseconds(250)) return;
    last_report_ = now;
  }
  v1::LeaseUsage usage;
  usage.set_lease_id(lease_id());
  usage.set_memory_in_use(memory_in_use());
  usage.set_launches(launches_);
  usage.set_bytes_to_device(bytes_to_device_);
  usage.set_bytes_to_host(bytes_to_host_);
  usage_(usage);
}

uint64_t Session::memory_in_use() const {
  uint64_t total = 0;
  for (size_t i = 0; i < config_.devices.size(); ++i) total += used_[i].load();
  return total;
}

void Session::Reply(uint64_t reply_id, const absl::Status& status,
                    const std::function<void(v1::Reply&)>& fill) {
  if (reply_id == 0) return;
  v1::SessionResponse response;
  v1::Reply* reply = response.add_events()->mutable_reply();
  reply->set_reply_id(reply_id);
  ToProto(status, reply->mutable_status());
  if (fill && status.ok()) fill(*reply);
  link_->Send(response);
}

void Session::HandleFailed(uint64_t handle, const absl::Status& status) {
  v1::SessionResponse response;
  v1::HandleFailed* failed = response.add_events()->mutable_handle_failed();
  failed->set_handle(handle);
  ToProto(status, failed->mutable_status());
  link_->Send(response);
}

void Session::Abort() {
  link_->Cut();
  if (std::shared_ptr<BulkSocket> channel = bulk()) channel->Shutdown();
}

void Session::AttachBulk(std::unique_ptr<BulkSocket> socket) {
  std::shared_ptr<BulkSocket> attached(std::move(socket));
  {
    absl::MutexLock lock(&bulk_mu_);
    bulk_ = attached;
  }
  // Only now: the client sends bulk commands once it has this answer.
  const char yes = 1;
  attached->WriteAll(&yes, 1).IgnoreError();  // a failure ends the client's session
}

std::shared_ptr<BulkSocket> Session::bulk() {
  absl::MutexLock lock(&bulk_mu_);
  return bulk_;
}

absl::StatusOr<std::shared_ptr<const char[]>> Session::ReadBulkUpload(uint64_t size) {
  std::shared_ptr<BulkSocket> channel = bulk();
  if (channel == nullptr) {
    return absl::FailedPreconditionError("a bulk upload, but the session has no bulk channel");
  }
  if (size > kMaxBulkCommandBytes) {
    Abort();  // the channel cannot be kept in step: the session is over
    return absl::InvalidArgumentError(absl::StrCat("a ", size, "-byte bulk upload exceeds the ",
                                                   kMaxBulkCommandBytes, "-byte limit"));
  }
  // Not zero-filled: every byte is read from the channel.
  std::shared_ptr<char[]> data(new char[size]);
  if (absl::Status s = channel->ReadExact(data.get(), size); !s.ok()) {
    Abort();  // the client is gone or broke the protocol
    return s;
  }
  return std::shared_ptr<const char[]>(std::move(data));
}

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

template <typename T>
absl::StatusOr<T> Session::Lookup(uint64_t handle, const char* kind) {
  auto it = handles_.find(handle);
  if (it == handles_.end()) {
    if (auto f = failed_.find(handle); f != failed_.end()) {
      return absl::Status(
          f->second.code(),
          absl::StrCat(kind, " ", handle, " was never created: ", f->second.message()));
    }
    return absl::InvalidArgumentError(absl::StrCat("unknown ", kind, " handle ", handle));
  }
  if (const T* value = std::get_if<T>(&it->second)) return *value;
  return absl::InvalidArgumentError(absl::StrCat("handle ", handle, " is not a ", kind));
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
  absl::Status added =
      buffer.ok() ? AddHandle(op.handle(), BufferEntry{*buffer, op.device()}) : buffer.status();
  if (!added.ok()) {
    used_[op.device()] -= op.size();
    return added;
  }
  ReportUsage(/*at_once=*/true);
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
                                                 bytes, [this] { ReportUsage(/*at_once=*/true); });
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
  if (streams_ >= config_.max_streams) {
    return absl::ResourceExhaustedError(
        absl::StrCat("session holds the maximum of ", config_.max_streams, " streams"));
  }
  absl::StatusOr<hal::Stream> stream = device->CreateStream();
  if (!stream.ok()) return stream.status();
  absl::Status added = AddHandle(
      op.handle(), std::make_shared<StreamWorker>(
                       *std::move(stream),
                       op.device() < config_.turns.size() ? config_.turns[op.device()] : nullptr));
  if (added.ok()) ++streams_;
  return added;
}

absl::Status Session::CreateEvent(const v1::CreateEvent& op) {
  absl::StatusOr<hal::Device> device = DeviceAt(op.device());
  if (!device.ok()) return device.status();
  if (events_ >= config_.max_events) {
    return absl::ResourceExhaustedError(
        absl::StrCat("session holds the maximum of ", config_.max_events, " events"));
  }
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
  if (modules_ >= config_.max_modules) {
    return absl::ResourceExhaustedError(
        absl::StrCat("session holds the maximum of ", config_.max_modules, " modules"));
  }
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
  ReportUsage(/*at_once=*/true);
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

absl::Status Session::Destroy(const v1::Destroy& op) {
  if (failed_.erase(op.handle()) != 0) return absl::OkStatus();
  auto it = handles_.find(op.handle());
  if (it == handles_.end()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown handle ", op.handle()));
  }
  if (std::holds_alternative<std::shared_ptr<StreamWorker>>(it->second)) {
    // Its queued work finishes off the reader (a wait in it may need later
    // commands), then the worker goes.
    waits_->Post([worker = std::get<std::shared_ptr<StreamWorker>>(it->second)]() mutable {
      worker.reset();
    });
    --streams_;
  }
  if (std::holds_alternative<EventEntry>(it->second)) --events_;
  if (const ModuleEntry* m = std::get_if<ModuleEntry>(&it->second)) {
    used_[m->device] -= m->charged;
    --modules_;
    ReportUsage(/*at_once=*/true);
  }
  if (const BufferEntry* b = std::get_if<BufferEntry>(&it->second)) {
    ReturnWhenUnused(b->device, b->buffer.size());
  }
  handles_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<StreamWorker::Operation> Session::MakeStreamOperation(
    v1::Command& command, std::shared_ptr<const char[]> upload) {
  using Op = StreamWorker::Operation;
  const uint64_t reply_id = command.reply_id();
  switch (command.op_case()) {
    case v1::Command::kCopyToDevice: {
      v1::CopyToDevice& op = *command.mutable_copy_to_device();
      absl::StatusOr<hal::BufferView> dst = Resolve(op.dst());
      if (!dst.ok()) return dst.status();
      const uint64_t size = upload != nullptr ? op.bulk_size() : op.data().size();
      if (size != dst->size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("copy of ", size, " bytes into a range of ", dst->size()));
      }
      // The bytes stay alive until the HAL stream has consumed them.
      std::shared_ptr<const void> data;
      const std::byte* bytes = nullptr;
      if (upload != nullptr) {
        bytes = reinterpret_cast<const std::byte*>(upload.get());
        data = std::move(upload);
      } else {
        auto in_message = std::make_shared<const std::string>(std::move(*op.mutable_data()));
        bytes = reinterpret_cast<const std::byte*>(in_message->data());
        data = std::move(in_message);
      }
      return Op([data, bytes, size, view = *dst](StreamWorker& w, const absl::Status& sticky) {
        if (!sticky.ok()) return sticky;
        w.Retain(data, size);
        return w.stream().CopyToDevice({bytes, size}, view);
      });
    }
    case v1::Command::kCopyToHost: {
      absl::StatusOr<hal::BufferView> src = Resolve(command.copy_to_host().src());
      if (!src.ok()) return src.status();
      // On the bulk channel if the client asks and has one; else in band.
      std::shared_ptr<BulkSocket> channel = command.copy_to_host().bulk() ? bulk() : nullptr;
      return Op(
          [this, reply_id, channel, view = *src](StreamWorker& w, const absl::Status& sticky) {
            // Staged a piece at a time: a node's memory must not scale with
            // what clients ask to read.
            constexpr uint64_t kStagingBytes = 8 * kCopyChunkBytes;
            absl::Status status = sticky;
            uint64_t bulk_bytes = 0;
            // Not zero-filled: every byte sent is first copied from the device.
            std::unique_ptr<char[]> staging(new char[std::min(kStagingBytes, view.size())]);
            for (uint64_t done = 0; status.ok() && done < view.size(); done += kStagingBytes) {
              const uint64_t n = std::min(kStagingBytes, view.size() - done);
              absl::StatusOr<hal::BufferView> piece = view.Subview(done, n);
              status = piece.status();
              if (status.ok()) {
                status =
                    w.stream().CopyToHost(*piece, {reinterpret_cast<std::byte*>(staging.get()), n});
              }
              if (status.ok()) status = w.Synchronize();
              if (channel != nullptr) {
                if (status.ok()) status = channel->WriteFrame({reply_id, done, n}, staging.get());
                if (status.ok()) bulk_bytes += n;
                continue;
              }
              for (uint64_t offset = 0; status.ok() && offset < n; offset += kCopyChunkBytes) {
                v1::SessionResponse response;
                v1::CopyData* chunk = response.add_events()->mutable_copy_data();
                chunk->set_reply_id(reply_id);
                chunk->set_offset(done + offset);
                chunk->set_data(staging.get() + offset, std::min(kCopyChunkBytes, n - offset));
                link_->Send(response);
              }
            }
            // The client must know what reached it, also after a failure.
            v1::SessionResponse response;
            v1::Reply* reply = response.add_events()->mutable_reply();
            reply->set_reply_id(reply_id);
            ToProto(status, reply->mutable_status());
            reply->set_bulk_bytes(bulk_bytes);
            link_->Send(response);
            return status;
          });
    }
    case v1::Command::kCopyDeviceToDevice: {
      absl::StatusOr<hal::BufferView> src = Resolve(command.copy_device_to_device().src());
      if (!src.ok()) return src.status();
      absl::StatusOr<hal::BufferView> dst = Resolve(command.copy_device_to_device().dst());
      if (!dst.ok()) return dst.status();
      return Op([src = *src, dst = *dst](StreamWorker& w, const absl::Status& sticky) {
        return sticky.ok() ? w.stream().Copy(src, dst) : sticky;
      });
    }
    case v1::Command::kFill: {
      const v1::Fill& op = command.fill();
      absl::StatusOr<hal::BufferView> dst = Resolve(op.dst());
      if (!dst.ok()) return dst.status();
      uint32_t pattern = op.pattern();
      size_t size = op.pattern_size();
      return Op([dst = *dst, pattern, size](StreamWorker& w, const absl::Status& sticky) {
        return sticky.ok() ? w.stream().Fill(dst, &pattern, size) : sticky;
      });
    }
    case v1::Command::kLaunch: {
      const v1::Launch& op = command.launch();
      absl::StatusOr<hal::Kernel> kernel = Lookup<hal::Kernel>(op.kernel(), "kernel");
      if (!kernel.ok()) return kernel.status();
      std::vector<hal::KernelArg> args;
      args.reserve(op.args_size());
      for (const v1::KernelArg& a : op.args()) {
        switch (a.value_case()) {
          case v1::KernelArg::kBuffer: {
            absl::StatusOr<hal::BufferView> view = Resolve(a.buffer());
            if (!view.ok()) return view.status();
            args.emplace_back(*view);
            break;
          }
          case v1::KernelArg::kI32:
            args.emplace_back(a.i32());
            break;
          case v1::KernelArg::kU32:
            args.emplace_back(a.u32());
            break;
          case v1::KernelArg::kI64:
            args.emplace_back(a.i64());
            break;
          case v1::KernelArg::kU64:
            args.emplace_back(a.u64());
            break;
          case v1::KernelArg::kF32:
            args.emplace_back(a.f32());
            break;
          case v1::KernelArg::kF64:
            args.emplace_back(a.f64());
            break;
          case v1::KernelArg::kRaw:
            args.push_back(hal::KernelArg::Bytes(a.raw().data(), a.raw().size()));
            break;
          default:
            return absl::InvalidArgumentError("kernel argument without a value");
        }
      }
      hal::LaunchConfig config{ToDim3(op.grid()), ToDim3(op.block()), op.shared_memory_bytes()};
      return Op([kernel = *kernel, config, args = std::move(args)](StreamWorker& w,
                                                                   const absl::Status& sticky) {
        if (!sticky.ok()) return sticky;
        auto launch = [&] { return w.stream().Launch(kernel, config, args); };
        if (w.turns() == nullptr) return launch();
        // A shared or watched device: the launch waits for the session's
        // turn, and runs to completion when the node must know its time.
        return w.turns()->Run(kernel.name(), launch, [&] { return w.RunTimed(launch); });
      });
    }
    case v1::Command::kRecordEvent: {
      absl::StatusOr<EventEntry> event =
          Lookup<EventEntry>(command.record_event().event(), "event");
      if (!event.ok()) return event.status();
      const uint64_t generation = event->track->Dispatch();
      return Op([event = *event, generation](StreamWorker& w, const absl::Status& sticky) {
        // Marked applied even when skipped: nobody may wait for it forever.
        absl::Status recorded =
            event.track->Apply(generation, sticky.ok() ? std::function<absl::Status()>([&] {
                                 return w.stream().Record(event.event);
                               })
                                                       : nullptr);
        return sticky.ok() ? recorded : sticky;
      });
    }
    case v1::Command::kWaitEvent: {
      absl::StatusOr<EventEntry> event = Lookup<EventEntry>(command.wait_event().event(), "event");
      if (!event.ok()) return event.status();
      const uint64_t generation = event->track->dispatched();
      return Op([event = *event, generation](StreamWorker& w, const absl::Status& sticky) {
        // The record may still sit in another stream's queue: let it land first.
        event.track->WaitApplied(generation);
        return sticky.ok() ? w.stream().Wait(event.event) : sticky;
      });
    }
    case v1::Command::kSynchronizeStream:
      return Op([this, reply_id](StreamWorker& w, const absl::Status& sticky) {
        absl::Status status = sticky.ok() ? w.Synchronize() : sticky;
        Reply(reply_id, status);
        return status;
      });
    default:
      return absl::InternalError("not a stream command");
  }
}

void Session::ExecuteStreamCommand(v1::Command& command) {
  uint64_t stream_handle = 0;
  switch (command.op_case()) {
    case v1::Command::kCopyToDevice:
      stream_handle = command.copy_to_device().stream();
      bytes_to_device_ += command.copy_to_device().bulk_size() != 0
                              ? command.copy_to_device().bulk_size()
                              : command.copy_to_device().data().size();
      break;
    case v1::Command::kCopyToHost:
      stream_handle = command.copy_to_host().stream();
      bytes_to_host_ += command.copy_to_host().src().size();
      break;
    case v1::Command::kCopyDeviceToDevice:
      stream_handle = command.copy_device_to_device().stream();
      break;
    case v1::Command::kFill:
      stream_handle = command.fill().stream();
      break;
    case v1::Command::kLaunch:
      stream_handle = command.launch().stream();
      ++launches_;
      break;
    case v1::Command::kRecordEvent:
      stream_handle = command.record_event().stream();
      break;
    case v1::Command::kWaitEvent:
      stream_handle = command.wait_event().stream();
      break;
    case v1::Command::kSynchronizeStream:
      stream_handle = command.synchronize_stream().stream();
      break;
    default:
      break;
  }
  ReportUsage(/*at_once=*/false);
  // A bulk upload's bytes come first, whatever becomes of the command.
  std::shared_ptr<const char[]> upload;
  if (command.has_copy_to_device() && command.copy_to_device().bulk_size() != 0) {
    absl::StatusOr<std::shared_ptr<const char[]>> read =
        ReadBulkUpload(command.copy_to_device().bulk_size());
    if (!read.ok()) {
      HandleFailed(stream_handle, read.status());
      return;
    }
    upload = *std::move(read);
  }
  absl::StatusOr<std::shared_ptr<StreamWorker>> worker =
      Lookup<std::shared_ptr<StreamWorker>>(stream_handle, "stream");
  if (!worker.ok()) {
    // No stream to be sticky on: answer directly, or flag the stream handle.
    if (command.reply_id() != 0) {
      Reply(command.reply_id(), worker.status());
    } else {
      HandleFailed(stream_handle, worker.status());
    }
    return;
  }
  // What the queued operation holds in memory: its data, and a nominal
  // cost per operation, so that a flood of small commands is bounded too.
  constexpr uint64_t kOperationBytes = 256;
  uint64_t queued_bytes = kOperationBytes;
  if (command.has_copy_to_device()) {
    queued_bytes += command.copy_to_device().data().size() + command.copy_to_device().bulk_size();
  }
  if (command.has_launch()) {
    for (const v1::KernelArg& a : command.launch().args()) queued_bytes += a.raw().size();
  }
  absl::StatusOr<StreamWorker::Operation> op = MakeStreamOperation(command, std::move(upload));
  if (!op.ok()) {
    // A bad command becomes the stream's sticky error, in its place in order.
    absl::Status error = op.status();
    uint64_t reply_id = command.reply_id();
    (*worker)->Enqueue([this, error, reply_id](StreamWorker&, const absl::Status& sticky) {
      absl::Status status = sticky.ok() ? error : sticky;
      Reply(reply_id, status);
      return status;
    });
    return;
  }
  if (command.has_synchronize_stream() && (*worker)->RunIfIdle(*op)) return;
  (*worker)->Enqueue(*std::move(op), queued_bytes);
}

void Session::Execute(v1::Command& command) {
  const uint64_t reply_id = command.reply_id();
  // A handle-creating command without a reply reports failure as HandleFailed.
  auto created = [&](uint64_t handle, const absl::Status& status) {
    if (status.ok()) {
      Reply(reply_id, status);
      return;
    }
    // Remembered so later uses say why; bounded like the handle table.
    if (handle != 0 && handles_.count(handle) == 0 &&
        handles_.size() + failed_.size() < config_.max_handles) {
      failed_[handle] = status;
    }
    if (reply_id != 0) {
      Reply(reply_id, status);
    } else {
      HandleFailed(handle, status);
    }
  };
  switch (command.op_case()) {
    case v1::Command::kAllocateBuffer:
      created(command.allocate_buffer().handle(), Allocate(command.allocate_buffer()));
      break;
    case v1::Command::kCreateStream:
      created(command.create_stream().handle(), CreateStream(command.create_stream()));
      break;
    case v1::Command::kCreateEvent:
      created(command.create_event().handle(), CreateEvent(command.create_event()));
      break;
    case v1::Command::kLoadModule: {
      uint64_t handle = command.load_module().handle();
      absl::Status status = LoadModule(*command.mutable_load_module());
      // A cache miss is not a failed handle: the client resends the image.
      if (!status.ok() && status.code() == absl::StatusCode::kNotFound) {
        Reply(reply_id, status);
      } else {
        created(handle, status);
      }
      break;
    }
    case v1::Command::kGetKernel: {
      absl::StatusOr<hal::Kernel> kernel = GetKernel(command.get_kernel());
      if (!kernel.ok()) {
        created(command.get_kernel().handle(), kernel.status());
        break;
      }
      Reply(reply_id, absl::OkStatus(), [&](v1::Reply& r) {
        if (kernel->signature().has_value()) {
          r.set_has_signature(true);
          r.set_signature(hal::FormatSignature(*kernel->signature()));
        }
      });
      break;
    }
    case v1::Command::kDestroy: {
      absl::Status status = Destroy(command.destroy());
      if (reply_id != 0) Reply(reply_id, status);
      break;
    }
    case v1::Command::kSynchronizeEvent: {
      absl::StatusOr<EventEntry> event =
          Lookup<EventEntry>(command.synchronize_event().event(), "event");
      if (!event.ok()) {
        Reply(reply_id, event.status());
        break;
      }
      // Blocking: wait off the reader, so later commands keep flowing.
      const uint64_t generation = event->track->dispatched();
      waits_->Post([this, reply_id, event = *event, generation] {
        event.track->WaitApplied(generation);
        Reply(reply_id, event.event.Synchronize());
      });
      break;
    }
    case v1::Command::kQueryEvent: {
      absl::StatusOr<EventEntry> event = Lookup<EventEntry>(command.query_event().event(), "event");
      absl::StatusOr<bool> complete = false;  // a record still queued is not complete
      if (!event.ok()) {
        complete = event.status();
      } else if (event->track->AllApplied()) {
        complete = event->event.IsComplete();
      }
      Reply(reply_id, complete.status(),
            [&](v1::Reply& r) { r.set_event_complete(complete.value_or(false)); });
      break;
    }
    case v1::Command::kElapsedTime: {
      absl::StatusOr<EventEntry> start =
          Lookup<EventEntry>(command.elapsed_time().start(), "event");
      absl::StatusOr<EventEntry> end = Lookup<EventEntry>(command.elapsed_time().end(), "event");
      absl::StatusOr<float> ms;
      if (!start.ok() || !end.ok()) {
        ms = !start.ok() ? start.status() : end.status();
      } else if (!start->track->AllApplied() || !end->track->AllApplied()) {
        ms = absl::FailedPreconditionError("elapsed time needs both events recorded and complete");
      } else {
        ms = hal::Event::ElapsedMilliseconds(start->event, end->event);
      }
      Reply(reply_id, ms.status(), [&](v1::Reply& r) { r.set_elapsed_ms(ms.value_or(0)); });
      break;
    }
    case v1::Command::kMemoryInfo: {
      uint32_t index = command.memory_info().device();
      absl::StatusOr<hal::Device> device = DeviceAt(index);
      absl::StatusOr<hal::MemoryInfo> info =
          device.ok() ? device->GetMemoryInfo() : device.status();
      Reply(reply_id, info.status(), [&](v1::Reply& r) {
        // The lease sees its quota, less what it uses, capped by the device.
        const uint64_t quota = config_.quotas[index];
        const uint64_t used = used_[index].load();
        r.set_total_bytes(quota);
        r.set_free_bytes(std::min(quota - std::min(quota, used), info->free_bytes));
      });
      break;
    }
    case v1::Command::kImageScore: {
      const v1::ImageScore& op = command.image_score();
      absl::StatusOr<hal::Device> device = DeviceAt(op.device());
      absl::Status status = device.status();
      if (status.ok() && !hal::IsKnownImageFormat(op.format())) {
        status = absl::InvalidArgumentError(absl::StrCat("unknown image format ", op.format()));
      }
      Reply(reply_id, status, [&](v1::Reply& r) {
        r.set_image_score(
            device->ImageScore(static_cast<hal::ImageFormat>(op.format()), op.arch()));
      });
      break;
    }
    case v1::Command::kCopyToDevice:
    case v1::Command::kCopyToHost:
    case v1::Command::kCopyDeviceToDevice:
    case v1::Command::kFill:
    case v1::Command::kLaunch:
    case v1::Command::kRecordEvent:
    case v1::Command::kWaitEvent:
    case v1::Command::kSynchronizeStream:
      ExecuteStreamCommand(command);
      break;
    default: {
      absl::Status bad = absl::InvalidArgumentError("unknown or empty command");
      if (reply_id != 0) {
        Reply(reply_id, bad);
      } else {
        HandleFailed(0, bad);
      }
    }
  }
}

}  // namespace accel::pool
