// The session itself: its life, its replies and usage reports, its bulk
// channel, and the dispatch of each command to the part that runs it
// (session_handles.cc, session_streams.cc, session_copies.cc).
#include "pool/worker/session.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "accel/hal/device_address.h"
#include "pool/common/status_convert.h"
#include "pool/common/version.h"

namespace accel::pool {

Session::Session(Config config, ModuleCache& cache, std::shared_ptr<SessionLink> link,
                 UsageReporter usage)
    : config_(std::move(config)),
      cache_(cache),
      link_(std::move(link)),
      usage_(std::move(usage)),
      used_(new std::atomic<uint64_t>[config_.devices.size()]),
      threads_(std::make_unique<ExecutorThreads>(config_.stream_threads)),
      waits_(std::make_unique<SerialExecutor>(*threads_)) {
  for (size_t i = 0; i < config_.devices.size(); ++i) used_[i] = 0;
}

Session::~Session() {
  // Blocking waits first (they may reference handles), then every handle:
  // stream workers drain their queued work before they go.
  waits_.reset();
  handles_.clear();
  failed_.clear();
  ReportMemory();  // all memory freed
}

void Session::ReportMemory() {
  if (!usage_) return;
  v1::LeaseUsage usage;
  usage.set_lease_id(lease_id());
  usage.set_memory_in_use(memory_in_use());
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
    case v1::Command::kGetGlobal: {
      absl::StatusOr<hal::Buffer> global = GetGlobal(command.get_global());
      if (!global.ok()) {
        created(command.get_global().handle(), global.status());
        break;
      }
      Reply(reply_id, absl::OkStatus(), [&](v1::Reply& r) { r.set_global_size(global->size()); });
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
      // Off the reader, so later commands keep flowing; the record may still
      // sit in a stream's queue, and lands first.
      const uint64_t generation = event->track->dispatched();
      waits_->PostResumable([this, reply_id, event = *event, generation, waker = waits_->waker()] {
        if (event.track->NotifyWhenApplied(generation, waker))
          return SerialExecutor::Step::kWaiting;
        Reply(reply_id, event.event.Synchronize());
        return SerialExecutor::Step::kDone;
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
    case v1::Command::kBufferAddress: {
      absl::StatusOr<BufferEntry> buffer =
          Lookup<BufferEntry>(command.buffer_address().buffer(), "buffer");
      absl::StatusOr<uint64_t> address =
          buffer.ok() ? hal::DeviceAddressOf(buffer->buffer) : buffer.status();
      Reply(reply_id, address.status(),
            [&](v1::Reply& r) { r.set_device_address(address.value_or(0)); });
      break;
    }
    case v1::Command::kKernelParameters: {
      absl::StatusOr<hal::Kernel> kernel =
          Lookup<hal::Kernel>(command.kernel_parameters().kernel(), "kernel");
      absl::StatusOr<std::vector<hal::KernelParameter>> params =
          kernel.ok() ? kernel->Parameters() : kernel.status();
      Reply(reply_id, params.status(), [&](v1::Reply& r) {
        for (const hal::KernelParameter& p : *params) {
          v1::KernelParameter* out = r.add_kernel_parameters();
          out->set_offset(p.offset);
          out->set_size(p.size);
        }
      });
      break;
    }
    case v1::Command::kKernelQuery: {
      const v1::KernelQuery& q = command.kernel_query();
      absl::StatusOr<hal::Kernel> kernel = Lookup<hal::Kernel>(q.kernel(), "kernel");
      absl::StatusOr<int64_t> answer = absl::UnknownError("unanswered");
      if (!kernel.ok()) {
        answer = kernel.status();
      } else {
        hal::KernelQuery query;
        query.kind = static_cast<hal::KernelQuery::Kind>(q.kind());
        query.attribute = q.attribute();
        query.flags = q.flags();
        query.blocks = q.blocks();
        query.grid = ToDim3(q.grid());
        query.block = ToDim3(q.block());
        query.cluster = ToDim3(q.cluster());
        query.dynamic_shared_bytes = q.dynamic_shared_bytes();
        answer = kernel->Query(query);
      }
      Reply(reply_id, answer.status(), [&](v1::Reply& r) { r.set_kernel_answer(*answer); });
      break;
    }
    case v1::Command::kStream:
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
