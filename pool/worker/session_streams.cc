// Stream commands: each is decoded into the HAL calls it stands for and
// queued, in order, on its stream's worker.
#include "absl/strings/str_cat.h"
#include "pool/common/status_convert.h"
#include "pool/worker/session.h"

namespace accel::pool {

hal::Dim3 ToDim3(const v1::Dim3& d) { return {d.x(), d.y(), d.z()}; }

absl::StatusOr<Session::StreamOperation> Session::MakeStreamOperation(
    v1::Command& command, std::shared_ptr<const char[]> upload) {
  using Op = StreamWorker::Operation;
  const uint64_t reply_id = command.reply_id();
  v1::StreamCommand& on = *command.mutable_stream();
  switch (on.op_case()) {
    case v1::StreamCommand::kCopyToDevice: {
      v1::CopyToDevice& op = *on.mutable_copy_to_device();
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
    case v1::StreamCommand::kCopyToHost: {
      absl::StatusOr<hal::BufferView> src = Resolve(on.copy_to_host().src());
      if (!src.ok()) return src.status();
      // On the bulk channel if the client asks and has one; else in band.
      std::shared_ptr<BulkSocket> channel = on.copy_to_host().bulk() ? bulk() : nullptr;
      return CopyToHostOperation(reply_id, std::move(channel), *src);
    }
    case v1::StreamCommand::kCopyDeviceToDevice: {
      absl::StatusOr<hal::BufferView> src = Resolve(on.copy_device_to_device().src());
      if (!src.ok()) return src.status();
      absl::StatusOr<hal::BufferView> dst = Resolve(on.copy_device_to_device().dst());
      if (!dst.ok()) return dst.status();
      return Op([src = *src, dst = *dst](StreamWorker& w, const absl::Status& sticky) {
        return sticky.ok() ? w.stream().Copy(src, dst) : sticky;
      });
    }
    case v1::StreamCommand::kFill: {
      const v1::Fill& op = on.fill();
      absl::StatusOr<hal::BufferView> dst = Resolve(op.dst());
      if (!dst.ok()) return dst.status();
      uint32_t pattern = op.pattern();
      size_t size = op.pattern_size();
      return Op([dst = *dst, pattern, size](StreamWorker& w, const absl::Status& sticky) {
        return sticky.ok() ? w.stream().Fill(dst, &pattern, size) : sticky;
      });
    }
    case v1::StreamCommand::kLaunch: {
      const v1::Launch& op = on.launch();
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
    case v1::StreamCommand::kRecordEvent: {
      absl::StatusOr<EventEntry> event = Lookup<EventEntry>(on.record_event().event(), "event");
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
    case v1::StreamCommand::kWaitEvent: {
      absl::StatusOr<EventEntry> event = Lookup<EventEntry>(on.wait_event().event(), "event");
      if (!event.ok()) return event.status();
      StreamOperation wait(Op([event = *event](StreamWorker& w, const absl::Status& sticky) {
        return sticky.ok() ? w.stream().Wait(event.event) : sticky;
      }));
      // The record may still sit in another stream's queue: it lands first.
      wait.after = event->track;
      wait.after_generation = event->track->dispatched();
      return wait;
    }
    case v1::StreamCommand::kSynchronizeStream:
      return Op([this, reply_id](StreamWorker& w, const absl::Status& sticky) {
        absl::Status status = sticky.ok() ? w.Synchronize() : sticky;
        Reply(reply_id, status);
        return status;
      });
    default:
      return absl::InvalidArgumentError("a stream command without an operation");
  }
}

void Session::ExecuteStreamCommand(v1::Command& command) {
  const v1::StreamCommand& on = command.stream();
  const uint64_t stream_handle = on.stream();
  // A bulk upload's bytes come first, whatever becomes of the command.
  std::shared_ptr<const char[]> upload;
  if (on.has_copy_to_device() && on.copy_to_device().bulk_size() != 0) {
    if (UploadInPlace(command)) return;
    absl::StatusOr<std::shared_ptr<const char[]>> read =
        ReadBulkUpload(on.copy_to_device().bulk_size());
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
  if (on.has_copy_to_device()) {
    queued_bytes += on.copy_to_device().data().size() + on.copy_to_device().bulk_size();
  }
  if (on.has_launch()) {
    for (const v1::KernelArg& a : on.launch().args()) queued_bytes += a.raw().size();
  }
  absl::StatusOr<StreamOperation> op = MakeStreamOperation(command, std::move(upload));
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
  if (on.has_synchronize_stream() && (*worker)->RunIfIdle(op->run)) return;
  if (op->after != nullptr) {
    (*worker)->EnqueueAfterRecord(std::move(op->after), op->after_generation, std::move(op->run),
                                  queued_bytes);
    return;
  }
  (*worker)->Enqueue(std::move(op->run), queued_bytes);
}

}  // namespace accel::pool
