#include "clients/remote/connection.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "pool/common/bearer_token.h"
#include "pool/common/bulk_tls.h"
#include "pool/common/malloc_tuning.h"
#include "pool/common/session_metadata.h"
#include "pool/common/status_convert.h"
#include "pool/common/transport.h"
#include "pool/common/version.h"

namespace accel::client {
namespace {

using pool::FromGrpc;
using pool::FromProto;

// A batch is written when it reaches this size or when the queue runs dry.
constexpr uint64_t kBatchBytes = 4ull << 20;
// Queued bytes beyond which Send waits for the writer: bounds client memory.
constexpr uint64_t kMaxQueuedBytes = 64ull << 20;

std::chrono::system_clock::time_point Deadline(int seconds) {
  return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
}

}  // namespace

absl::StatusOr<std::shared_ptr<Connection>> Connection::Open(std::shared_ptr<HeldLease> lease,
                                                             const NodeAddress& node) {
  pool::TuneMallocForBulkTransfers();
  grpc::ChannelArguments args;
  pool::ApplyBulkTransferSettings(args);
  // Keepalive pings notice a cut network (no RST) within a few seconds.
  // (A third of the TTL, as renewals go, at most 5 s.)
  const int ping_ms =
      static_cast<int>(std::min<uint32_t>(lease->lease().lease().ttl_seconds() * 1000 / 3, 5000));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, std::max(ping_ms, 1000));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  auto channel = grpc::CreateCustomChannel(node.address, lease->pool().credentials(), args);
  std::shared_ptr<Connection> connection(new Connection(std::move(lease), node, channel));
  if (absl::Status s = connection->Start(); !s.ok()) return s;
  return connection;
}

Connection::Connection(std::shared_ptr<HeldLease> lease, NodeAddress node,
                       std::shared_ptr<grpc::Channel> channel)
    : held_(std::move(lease)),
      node_address_(std::move(node)),
      channel_(std::move(channel)),
      node_(v1::Node::NewStub(channel_)) {}

absl::Status Connection::Start() {
  if (!channel_->WaitForConnected(Deadline(10))) {
    return absl::UnavailableError(absl::StrCat("node ", node_address_.name, " at ",
                                               node_address_.address, " is unreachable"));
  }
  pool::AttachSessionCredentials(session_context_, {lease().lease_id(), held_->lease().token()});
  stream_ = node_->Session(&session_context_);
  v1::SessionResponse answer;
  absl::Status failed;
  if (!stream_->Read(&answer)) {
    failed = FromGrpc(stream_->Finish(), "open session");
    if (failed.ok()) failed = absl::UnavailableError("open session: the node closed it");
  } else if (answer.server_major() != pool::kProtocolMajor) {
    failed = absl::FailedPreconditionError(
        absl::StrCat("node speaks protocol ", answer.server_major(), ".x; this client speaks ",
                     pool::kProtocolMajor, ".", pool::kProtocolMinor));
    session_context_.TryCancel();
    stream_->Finish().IgnoreError();  // cancelled by us: the reason is the version
  }
  if (!failed.ok()) {
    stream_.reset();
    return failed;
  }
  ConnectBulk(answer);
  native_attributes_ = std::move(*answer.mutable_native_attributes());
  writer_ = std::thread([this] { WriterLoop(); });
  reader_ = std::thread([this] { ReaderLoop(); });
  if (bulk_ != nullptr) bulk_reader_ = std::thread([this] { BulkReaderLoop(); });
  lease_subscription_ = held_->Subscribe([this](const absl::Status& why) { End(why); });
  return absl::OkStatus();
}

const google::protobuf::Map<int32_t, int64_t>& Connection::native_attributes(
    const std::string& device_id) const {
  static const auto* const kNone = new google::protobuf::Map<int32_t, int64_t>();
  auto it = native_attributes_.find(device_id);
  return it != native_attributes_.end() ? it->second.values() : *kNone;
}

void Connection::ConnectBulk(const v1::SessionResponse& hello) {
  if (hello.bulk_port() == 0 || hello.bulk_key().size() != pool::kBulkKeyBytes ||
      hello.bulk_port() > 65535) {
    return;
  }
  // ACCEL_POOL_BULK=off keeps every byte in the gRPC session (for networks
  // that pass only the gRPC port, and to test that path).
  if (const char* bulk = std::getenv("ACCEL_POOL_BULK");
      bulk != nullptr && std::string(bulk) == "off") {
    return;
  }
  // Without it, copies go in band: slower, never wrong. So failures here
  // are not errors.
  const std::string host = pool::HostOfAddress(node_address_.address);
  absl::StatusOr<std::unique_ptr<pool::BulkSocket>> socket =
      pool::BulkSocket::Connect(host, static_cast<uint16_t>(hello.bulk_port()), 5000);
  if (!socket.ok()) return;
  // Over TLS to the node, the bulk channel is TLS too, checked as the
  // session's link is; the key goes only to a node that passed.
  if (!held_->pool().tls().empty()) {
    absl::StatusOr<pool::ChannelKeys> keys =
        pool::BulkTlsConnect((*socket)->fd(), host, held_->pool().tls(), 5000);
    if (!keys.ok() || !(*socket)->Seal(*keys).ok()) return;
  }
  char attached = 0;
  if (!(*socket)->WriteAll(hello.bulk_key().data(), hello.bulk_key().size()).ok() ||
      !(*socket)->ReadExact(&attached, 1, /*timeout_ms=*/5000).ok() || attached != 1) {
    return;
  }
  bulk_ = *std::move(socket);
}

Connection::~Connection() {
  // No word of the lease's loss may reach a connection being torn down.
  if (lease_subscription_ != 0) held_->Unsubscribe(lease_subscription_);
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  // The threads exist only if the session opened.
  if (writer_.joinable()) writer_.join();  // flushes what is queued, then half-closes
  End(absl::FailedPreconditionError("the lease was released"));
  if (reader_.joinable()) reader_.join();
  if (bulk_reader_.joinable()) bulk_reader_.join();  // End() shut its socket down
}

absl::Status Connection::Alive() {
  absl::MutexLock lock(&mu_);
  return ended_;
}

absl::Status Connection::HandleStatus(uint64_t handle) {
  absl::MutexLock lock(&mu_);
  auto it = failed_handles_.find(handle);
  return it == failed_handles_.end() ? absl::OkStatus() : it->second;
}

bool Connection::NodeHasImage(const std::string& sha256) {
  absl::MutexLock lock(&mu_);
  return node_images_.count(sha256) != 0;
}

void Connection::NoteNodeHasImage(const std::string& sha256, bool has) {
  absl::MutexLock lock(&mu_);
  if (has) {
    node_images_.insert(sha256);
  } else {
    node_images_.erase(sha256);
  }
}

absl::StatusOr<uint64_t> Connection::WireSize(const v1::Command& command) {
  // Leave room for the batch's framing under the message limit.
  const uint64_t size = command.ByteSizeLong();
  if (size > pool::kMaxMessageBytes - (1 << 20)) {
    return absl::InvalidArgumentError(absl::StrCat("a ", size, "-byte request exceeds the ",
                                                   pool::kMaxMessageBytes >> 20,
                                                   " MiB protocol message limit"));
  }
  return size;
}

absl::Status Connection::Enqueue(v1::Command command, uint64_t size) {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](Connection* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) {
        return c->outgoing_bytes_ < kMaxQueuedBytes || !c->ended_.ok();
      },
      this));
  if (!ended_.ok()) return ended_;
  outgoing_bytes_ += size;
  outgoing_.push_back({std::move(command), size});
  return absl::OkStatus();
}

absl::Status Connection::Send(v1::Command command) {
  absl::StatusOr<uint64_t> size = WireSize(command);
  if (!size.ok()) return size.status();
  return Enqueue(std::move(command), *size);
}

absl::Status Connection::WriteNowOrEnqueue(v1::Command command) {
  absl::StatusOr<uint64_t> size = WireSize(command);
  if (!size.ok()) return size.status();
  bool write_now = false;
  {
    absl::MutexLock lock(&mu_);
    if (!ended_.ok()) return ended_;
    write_now = outgoing_.empty() && !writing_;
    if (write_now) writing_ = true;  // nothing is ahead of this command
  }
  if (!write_now) return Enqueue(std::move(command), *size);
  v1::SessionRequest request;
  *request.add_commands() = std::move(command);
  const bool written = stream_->Write(request);
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
  }
  if (!written) End(NodeUnreachable("session write failed"));
  return absl::OkStatus();  // a failed write fails the call through End
}

absl::Status Connection::NodeUnreachable(absl::string_view why) const {
  return absl::UnavailableError(
      absl::StrCat("lease lost: node ", node_address_.name, " unreachable (", why, ")"));
}

absl::StatusOr<v1::Reply> Connection::Call(v1::Command command) {
  Pending pending;
  const uint64_t id = next_reply_.fetch_add(1);
  command.set_reply_id(id);
  {
    absl::MutexLock lock(&mu_);
    if (!ended_.ok()) return ended_;
    pending_[id] = &pending;
  }
  if (absl::Status s = WriteNowOrEnqueue(std::move(command)); !s.ok()) {
    absl::MutexLock lock(&mu_);
    pending_.erase(id);
    return s;
  }
  absl::MutexLock lock(&mu_);
  ReadUntil([&pending] { return pending.done; }, /*caller=*/true);
  if (!pending.status.ok()) return pending.status;
  return std::move(pending.reply);
}

namespace {
// How long the background reader stays off the stream after a caller read
// for itself: a caller in a loop of synchronous calls comes back well within
// it and reads its next reply itself too.
constexpr auto kCallerReadsFor = std::chrono::milliseconds(2);
}  // namespace

void Connection::ReadUntil(const std::function<bool()>& until, bool caller) {
  while (!until()) {
    if (reading_ || read_ended_) {
      // Another thread reads (and wakes us when our reply is in), or the
      // session is over (End() settles every call).
      struct Wait {
        Connection* c;
        const std::function<bool()>* until;
      } wait{this, &until};
      mu_.Await(absl::Condition(
          +[](Wait* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return (*w->until)() || (!w->c->reading_ && !w->c->read_ended_);
          },
          &wait));
      continue;
    }
    reading_ = true;
    mu_.Unlock();
    v1::SessionResponse response;
    const bool read = stream_->Read(&response);
    if (read) Dispatch(response);
    mu_.Lock();
    reading_ = false;
    if (caller) caller_read_at_ = std::chrono::steady_clock::now();
    if (!read) {
      read_ended_ = true;
      mu_.Unlock();
      grpc::Status finished = stream_->Finish();
      End(NodeUnreachable(finished.error_message()));
      mu_.Lock();
    }
  }
}

absl::Status Connection::SendBulkUpload(v1::Command command, const void* src, uint64_t size) {
  absl::MutexLock order(&bulk_write_mu_);
  if (absl::Status s = Send(std::move(command)); !s.ok()) return s;
  if (absl::Status s = bulk_->WriteAll(src, size); !s.ok()) {
    absl::Status lost = NodeUnreachable(s.message());
    End(lost);
    return lost;
  }
  return absl::OkStatus();
}

absl::Status Connection::SendCopyToHost(v1::Command command, void* dst, uint64_t size,
                                        std::function<void(const absl::Status&)> done) {
  const uint64_t id = next_reply_.fetch_add(1);
  command.set_reply_id(id);
  auto* pending = new Pending();
  pending->dst = static_cast<char*>(dst);
  pending->size = size;
  pending->on_done = std::move(done);
  {
    absl::MutexLock lock(&mu_);
    if (!ended_.ok()) {
      delete pending;
      return ended_;
    }
    pending_[id] = pending;
  }
  absl::Status queued = Send(std::move(command));
  if (!queued.ok()) {
    // End() may already have completed and freed it; only erase if still ours.
    absl::MutexLock lock(&mu_);
    if (auto it = pending_.find(id); it != pending_.end()) {
      pending_.erase(it);
      delete pending;
    }
  }
  return queued;
}

void Connection::WriterLoop() {
  for (;;) {
    v1::SessionRequest batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Connection* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) {
            return !c->writing_ && (c->stopping_ || !c->outgoing_.empty() || !c->ended_.ok());
          },
          this));
      if (!ended_.ok() || (outgoing_.empty() && stopping_)) break;
      writing_ = true;
      uint64_t bytes = 0;
      while (!outgoing_.empty()) {
        const uint64_t next = outgoing_.front().second;
        // Never past the message limit: a batch holds at least one command,
        // and no more once the next would cross kBatchBytes.
        if (bytes != 0 && bytes + next > kBatchBytes) break;
        bytes += next;
        *batch.add_commands() = std::move(outgoing_.front().first);
        outgoing_.pop_front();
      }
      outgoing_bytes_ -= std::min(outgoing_bytes_, bytes);
    }
    const bool written = stream_->Write(batch);
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
    }
    if (!written) {
      End(NodeUnreachable("session write failed"));
      break;
    }
  }
  stream_->WritesDone();
}

void Connection::Dispatch(const v1::SessionResponse& response) {
  for (const v1::SessionEvent& event : response.events()) {
    switch (event.event_case()) {
      case v1::SessionEvent::kReply: {
        absl::MutexLock lock(&mu_);
        auto it = pending_.find(event.reply().reply_id());
        if (it == pending_.end()) break;
        Pending* p = it->second;
        if (p->on_done) {  // a copy to the host
          CompleteCopyToHost(it->first, event.reply());
          break;
        }
        pending_.erase(it);
        p->status = FromProto(event.reply().status());
        p->reply = event.reply();
        p->done = true;
        // A caller is active: the background reader steps aside, so that
        // the caller's next call reads its own reply.
        caller_read_at_ = std::chrono::steady_clock::now();
        break;
      }
      case v1::SessionEvent::kCopyData: {
        const v1::CopyData& chunk = event.copy_data();
        absl::MutexLock lock(&mu_);
        auto it = pending_.find(chunk.reply_id());
        if (it == pending_.end() || it->second->dst == nullptr) break;
        Pending* p = it->second;
        // Never trust the node's offsets with the caller's memory.
        if (chunk.offset() <= p->size && chunk.data().size() <= p->size - chunk.offset()) {
          std::memcpy(p->dst + chunk.offset(), chunk.data().data(), chunk.data().size());
        }
        break;
      }
      case v1::SessionEvent::kHandleFailed: {
        absl::MutexLock lock(&mu_);
        failed_handles_[event.handle_failed().handle()] = FromProto(event.handle_failed().status());
        break;
      }
      case v1::SessionEvent::kSessionEnded: {
        // The holder released it (CANCELLED): a usage error from now on.
        // Anything else (expired, revoked, node shutting down): lost.
        absl::Status why = FromProto(event.session_ended());
        if (why.code() == absl::StatusCode::kCancelled) {
          End(absl::FailedPreconditionError("the lease was released"));
        } else if (why.code() == absl::StatusCode::kUnauthenticated) {
          // The tenant's credential was revoked: not a fault to retry.
          End(absl::UnauthenticatedError(absl::StrCat("lease ended: ", why.message())));
        } else {
          End(absl::UnavailableError(absl::StrCat("lease lost: ", why.message())));
        }
        break;
      }
      case v1::SessionEvent::kSessionFailed:
        // Its own code: the caller must tell a faulting kernel (ABORTED) or
        // one the watchdog ended (DEADLINE_EXCEEDED) from a lost lease.
        End(FromProto(event.session_failed()));
        break;
      default:
        break;
    }
  }
}

void Connection::ReaderLoop() {
  absl::MutexLock lock(&mu_);
  while (!read_ended_ && !stopping_) {
    // Off the stream while a caller reads, or read for itself a moment ago.
    const auto now = std::chrono::steady_clock::now();
    if (reading_ || now - caller_read_at_ < kCallerReadsFor) {
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(kCallerReadsFor));
      continue;
    }
    // One message at a time, then look again whether callers are back.
    bool got_one = false;
    ReadUntil([&got_one] { return std::exchange(got_one, true); }, /*caller=*/false);
  }
}

void Connection::CompleteCopyToHost(uint64_t reply_id, const v1::Reply& reply) {
  Pending* p = pending_[reply_id];
  p->awaiting_bulk = true;
  const uint64_t expected = reply.bulk_bytes();
  // Settled when the bytes are in, or will never come; and the bulk reader
  // has let go of the copy's memory either way.
  auto settled = [this, p, expected]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return (p->bulk_received >= expected || bulk_failed_ || !ended_.ok()) && bulk_target_ != p;
  };
  mu_.Await(absl::Condition(&settled));
  pending_.erase(reply_id);  // End() may have cleared the table already
  absl::Status status = FromProto(reply.status());
  if (p->bulk_received < expected) {
    status =
        !ended_.ok()
            ? ended_
            : absl::UnavailableError("the bulk channel closed before the copy's bytes arrived");
  }
  auto done = std::move(p->on_done);
  delete p;  // copies to the host are owned by the table
  mu_.Unlock();
  done(status);
  mu_.Lock();
}

void Connection::BulkReaderLoop() {
  for (;;) {
    absl::StatusOr<pool::BulkFrameHeader> header = bulk_->ReadFrameHeader();
    absl::Status read = header.status();
    if (read.ok()) {
      Pending* target = nullptr;
      {
        absl::MutexLock lock(&mu_);
        auto it = pending_.find(header->reply_id);
        // Never trust the node's offsets with the caller's memory.
        if (it != pending_.end() && it->second->dst != nullptr &&
            header->offset <= it->second->size &&
            header->length <= it->second->size - header->offset) {
          target = it->second;
          bulk_target_ = target;
        }
      }
      // Straight into the caller's memory: no copy beyond the kernel's.
      read = target != nullptr ? bulk_->ReadExact(target->dst + header->offset, header->length)
                               : bulk_->Discard(header->length);
      absl::MutexLock lock(&mu_);
      if (target != nullptr && read.ok()) target->bulk_received += header->length;
      bulk_target_ = nullptr;
    }
    if (!read.ok()) {
      // A node ending the session says why on the session stream and then
      // closes this channel, which may be noticed here first: give the
      // reader a moment to learn the reason before calling the node lost.
      {
        absl::MutexLock lock(&mu_);
        bulk_failed_ = true;  // a copy waiting for bytes gives up, and the reader goes on
        mu_.AwaitWithTimeout(absl::Condition(
                                 +[](Connection* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) {
                                   return !c->ended_.ok();
                                 },
                                 this),
                             absl::Seconds(2));
      }
      End(NodeUnreachable(read.message()));
      return;
    }
  }
}

void Connection::End(absl::Status why) {
  std::vector<std::function<void(const absl::Status&)>> copies;
  {
    absl::MutexLock lock(&mu_);
    if (!ended_.ok()) return;
    ended_ = why;
    if (bulk_ != nullptr) {
      // No copy completes while the bulk reader writes into its memory.
      bulk_->Shutdown();
      mu_.Await(absl::Condition(
          +[](Connection* c)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) { return c->bulk_target_ == nullptr; },
          this));
    }
    for (auto& [id, p] : pending_) {
      p->status = why;
      if (p->awaiting_bulk) continue;  // the reader completes it
      if (p->on_done) {
        copies.push_back(std::move(p->on_done));
        delete p;
      } else {
        p->done = true;
      }
    }
    pending_.clear();
  }
  for (auto& done : copies) done(why);
  session_context_.TryCancel();
}

}  // namespace accel::client
