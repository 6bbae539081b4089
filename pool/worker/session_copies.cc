// Copies between the client and the device: to the host, staged from the
// device a piece at a time (so that a worker's memory does not grow with what
// a client asks to read) and sent on the bulk channel or in band; memory the
// worker can address is sent, and bulk uploads into it received, in place.
#include <algorithm>

#include "pool/common/status_convert.h"
#include "pool/common/version.h"
#include "pool/worker/session.h"

namespace accel::pool {

StreamWorker::Operation Session::CopyToHostOperation(uint64_t reply_id,
                                                     std::shared_ptr<BulkSocket> channel,
                                                     hal::BufferView view) {
  return [this, reply_id, channel = std::move(channel), view](StreamWorker& w,
                                                              const absl::Status& sticky) {
    // Staged a piece at a time: a node's memory must not scale with
    // what clients ask to read.
    constexpr uint64_t kStagingBytes = 8 * kCopyChunkBytes;
    absl::Status status = sticky;
    uint64_t bulk_bytes = 0;
    // Memory the worker can address (a host device's) is sent from where it
    // lies once the stream is done with it; any other is staged.
    absl::StatusOr<absl::Span<std::byte>> mapped = view.MapToHost();
    std::unique_ptr<char[]> staging;
    if (mapped.ok()) {
      if (status.ok()) status = w.Synchronize();
    } else {
      // Not zero-filled: every byte sent is first copied from the device.
      staging.reset(new char[std::min(kStagingBytes, view.size())]);
    }
    for (uint64_t done = 0; status.ok() && done < view.size(); done += kStagingBytes) {
      const uint64_t n = std::min(kStagingBytes, view.size() - done);
      const char* data = staging.get();
      if (mapped.ok()) {
        data = reinterpret_cast<const char*>(mapped->data()) + done;
      } else {
        absl::StatusOr<hal::BufferView> piece = view.Subview(done, n);
        status = piece.status();
        if (status.ok()) {
          status = w.stream().CopyToHost(*piece, {reinterpret_cast<std::byte*>(staging.get()), n});
        }
        if (status.ok()) status = w.Synchronize();
      }
      if (channel != nullptr) {
        if (status.ok()) status = channel->WriteFrame({reply_id, done, n}, data);
        if (status.ok()) bulk_bytes += n;
        continue;
      }
      for (uint64_t offset = 0; status.ok() && offset < n; offset += kCopyChunkBytes) {
        v1::SessionResponse response;
        v1::CopyData* chunk = response.add_events()->mutable_copy_data();
        chunk->set_reply_id(reply_id);
        chunk->set_offset(done + offset);
        chunk->set_data(data + offset, std::min(kCopyChunkBytes, n - offset));
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
  };
}

bool Session::UploadInPlace(const v1::Command& command) {
  const v1::StreamCommand& on = command.stream();
  const v1::CopyToDevice& op = on.copy_to_device();
  absl::StatusOr<std::shared_ptr<StreamWorker>> worker =
      Lookup<std::shared_ptr<StreamWorker>>(on.stream(), "stream");
  std::shared_ptr<BulkSocket> channel = bulk();
  if (!worker.ok() || channel == nullptr || op.bulk_size() > kMaxBulkCommandBytes) return false;
  absl::StatusOr<hal::BufferView> dst = Resolve(op.dst());
  if (!dst.ok() || dst->size() != op.bulk_size()) return false;
  absl::StatusOr<absl::Span<std::byte>> bytes = dst->MapToHost();
  if (!bytes.ok()) return false;
  // Only on an idle stream, so that no queued work of its own still uses
  // the buffer; the bytes then land in it on the reader, in order.
  return (*worker)->RunIfIdle(
      [&](StreamWorker&, const absl::Status& sticky) {
        absl::Status read = sticky.ok() ? channel->ReadExact(bytes->data(), bytes->size())
                                        : channel->Discard(bytes->size());
        if (!read.ok()) Abort();  // the client is gone or broke the protocol
        return sticky.ok() ? read : sticky;
      },
      /*uses_device=*/false);
}

}  // namespace accel::pool
