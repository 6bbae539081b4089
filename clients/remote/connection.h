// The client end of one lease: the session stream to the node, pipelined.
//
// Commands are queued and written by a writer thread in batches, so creating
// handles, uploads, fills and launches never wait for the network; only
// calls that need an answer (synchronization, copies to the host, queries)
// wait for their reply, which they read themselves when no other thread is
// reading (else the reading thread hands it over). The lease it belongs to
// is renewed elsewhere (held_lease.h). When the node or the lease goes away, every waiting
// and later call fails with UNAVAILABLE ("lease lost: ...") instead of hanging.
#ifndef ACCEL_CLIENTS_REMOTE_CONNECTION_H_
#define ACCEL_CLIENTS_REMOTE_CONNECTION_H_

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "clients/remote/held_lease.h"
#include "pool/common/bulk_socket.h"
#include "pool/common/wire.h"

namespace accel::client {

namespace v1 = ::accelpool::v1;

// A node of a lease: its name and where it serves sessions.
struct NodeAddress {
  std::string name;
  std::string address;
};

class Connection {
 public:
  // Opens the lease's session on `node` (a lease across nodes has one on
  // each). The lease is released when the last of its connections goes.
  static absl::StatusOr<std::shared_ptr<Connection>> Open(std::shared_ptr<HeldLease> lease,
                                                          const NodeAddress& node);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const v1::LeaseInfo& lease() const { return held_->lease().lease(); }
  // What the node's hello gave of its device `device_id`'s vendor
  // attributes (empty when nothing).
  const google::protobuf::Map<int32_t, int64_t>& native_attributes(
      const std::string& device_id) const;
  uint64_t NewHandle() { return next_handle_.fetch_add(1); }

  // Queues a command that needs no answer.
  absl::Status Send(v1::Command command);
  // Sends a command and waits for its reply; a non-OK reply is the status.
  absl::StatusOr<v1::Reply> Call(v1::Command command);
  // Queues a copy to the host: the data lands in `dst` (which must stay valid
  // until `done` runs) and `done` gets the outcome, on the reader thread.
  absl::Status SendCopyToHost(v1::Command command, void* dst, uint64_t size,
                              std::function<void(const absl::Status&)> done);

  // Whether the session has a bulk channel (fixed once opened).
  bool has_bulk() const { return bulk_ != nullptr; }
  // Queues a bulk upload command and writes its `size` bytes from `src` on
  // the bulk channel, in the same order as the command among others. Returns
  // once the bytes are handed to the kernel.
  absl::Status SendBulkUpload(v1::Command command, const void* src, uint64_t size);

  // Why a handle could not be created on the node, if it could not.
  absl::Status HandleStatus(uint64_t handle);
  // OK while the lease and the session are alive.
  absl::Status Alive();

  // Module images the node is known to hold, by SHA-256.
  bool NodeHasImage(const std::string& sha256);
  void NoteNodeHasImage(const std::string& sha256, bool has);

 private:
  struct Pending {
    bool done = false;
    absl::Status status;
    v1::Reply reply;
    char* dst = nullptr;  // copies to the host
    uint64_t size = 0;
    std::function<void(const absl::Status&)> on_done;
    uint64_t bulk_received = 0;  // bytes that came on the bulk channel
    bool awaiting_bulk = false;  // the reader completes it, not End()
  };

  Connection(std::shared_ptr<HeldLease> lease, NodeAddress node,
             std::shared_ptr<grpc::Channel> channel);
  absl::Status Start();
  void WriterLoop();
  // The background reader: reads what no caller is waiting to read (async
  // copies' data, failed handles, the session's end). It steps aside while
  // callers are reading their own replies.
  void ReaderLoop();
  // Reads messages from the node until `until()` holds, taking the reader's
  // role in turn with other threads; with mu_ held (released while reading).
  // A caller that reads its own reply saves the hand-off from another
  // reading thread: the synchronous round trip.
  void ReadUntil(const std::function<bool()>& until, bool caller)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies one message from the node.
  void Dispatch(const v1::SessionResponse& response) ABSL_LOCKS_EXCLUDED(mu_);
  void BulkReaderLoop();
  // Connects the bulk channel the node offered in its hello, if it did.
  void ConnectBulk(const v1::SessionResponse& hello);
  // Reader thread: a copy to the host was answered; completes it once its
  // bulk bytes are in too. Later events wait: a synchronize answered after
  // the copy must not return before the copy's bytes have landed.
  void CompleteCopyToHost(uint64_t reply_id, const v1::Reply& reply)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks the session over with `why`, fails every pending call, stops I/O.
  void End(absl::Status why);
  // Queues a command of `size` encoded bytes (from WireSize).
  absl::Status Enqueue(v1::Command command, uint64_t size) ABSL_LOCKS_EXCLUDED(mu_);
  // For calls that wait for their answer: writes from the calling thread
  // when nothing is queued or being written (saving the hand-off to the
  // writer thread on every synchronous round trip), else queues.
  absl::Status WriteNowOrEnqueue(v1::Command command) ABSL_LOCKS_EXCLUDED(mu_);
  // UNAVAILABLE "lease lost: node N unreachable (why)".
  absl::Status NodeUnreachable(absl::string_view why) const;
  // A command's encoded size; it must fit one session message.
  static absl::StatusOr<uint64_t> WireSize(const v1::Command& command);

  const std::shared_ptr<HeldLease> held_;
  const NodeAddress node_address_;
  std::shared_ptr<grpc::Channel> channel_;
  uint64_t lease_subscription_ = 0;  // to hear that the lease is lost
  std::unique_ptr<v1::Node::Stub> node_;
  grpc::ClientContext session_context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::SessionRequest, v1::SessionResponse>> stream_;
  // From the node's hello; read-only after Start.
  google::protobuf::Map<std::string, v1::NativeAttributes> native_attributes_;
  std::atomic<uint64_t> next_handle_{1};
  std::atomic<uint64_t> next_reply_{1};

  absl::Mutex mu_;
  std::deque<std::pair<v1::Command, uint64_t>> outgoing_ ABSL_GUARDED_BY(mu_);  // with wire sizes
  uint64_t outgoing_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, Pending*> pending_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, absl::Status> failed_handles_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> node_images_ ABSL_GUARDED_BY(mu_);
  absl::Status ended_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;     // one thread writes the stream at a time
  bool reading_ ABSL_GUARDED_BY(mu_) = false;     // one thread reads it at a time
  bool read_ended_ ABSL_GUARDED_BY(mu_) = false;  // the stream has no more messages
  // When a caller last read for itself: the background reader keeps off the
  // stream while callers come back quickly.
  std::chrono::steady_clock::time_point caller_read_at_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  // The bulk channel, if any; the pending copy its reader is writing into.
  std::unique_ptr<pool::BulkSocket> bulk_;
  absl::Mutex bulk_write_mu_;  // keeps uploads in command order
  Pending* bulk_target_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool bulk_failed_ ABSL_GUARDED_BY(mu_) = false;

  std::thread writer_;
  std::thread reader_;
  std::thread bulk_reader_;
};

}  // namespace accel::client

#endif  // ACCEL_CLIENTS_REMOTE_CONNECTION_H_
