// Copies to the host: staged from the device a piece at a time, and sent on
// the bulk channel or in band, so that a worker's memory does not grow with
// what a client asks to read.
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
    // Not zero-filled: every byte sent is first copied from the device.
    std::unique_ptr<char[]> staging(new char[std::min(kStagingBytes, view.size())]);
    for (uint64_t done = 0; status.ok() && done < view.size(); done += kStagingBytes) {
      const uint64_t n = std::min(kStagingBytes, view.size() - done);
      absl::StatusOr<hal::BufferView> piece = view.Subview(done, n);
      status = piece.status();
      if (status.ok()) {
        status = w.stream().CopyToHost(*piece, {reinterpret_cast<std::byte*>(staging.get()), n});
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
  };
}

}  // namespace accel::pool
