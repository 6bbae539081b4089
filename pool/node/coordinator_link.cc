#include "pool/node/coordinator_link.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "pool/common/status_convert.h"
#include "pool/common/version.h"

namespace accel::pool {
namespace {

grpc::ChannelArguments LinkChannelArguments() {
  grpc::ChannelArguments args;
  // Pings notice a cut network (no RST) within a few seconds.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  return args;
}

// Refusals that retrying cannot fix, until an operator changes something.
bool IsRefusal(const absl::Status& s) {
  return s.code() == absl::StatusCode::kPermissionDenied ||
         s.code() == absl::StatusCode::kUnauthenticated ||
         s.code() == absl::StatusCode::kInvalidArgument ||
         s.code() == absl::StatusCode::kFailedPrecondition ||
         s.code() == absl::StatusCode::kUnimplemented;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CoordinatorLink>> CoordinatorLink::Create(Options options) {
  absl::StatusOr<std::shared_ptr<CoordinatorList>> coordinators =
      CoordinatorList::Parse(options.coordinator, options.credentials, LinkChannelArguments());
  if (!coordinators.ok()) return coordinators.status();
  return std::unique_ptr<CoordinatorLink>(
      new CoordinatorLink(std::move(options), *std::move(coordinators)));
}

CoordinatorLink::~CoordinatorLink() { Stop(); }

absl::Status CoordinatorLink::Start(NodeView node, std::chrono::milliseconds wait) {
  node_ = std::move(node);
  link_thread_ = std::thread([this] { LinkLoop(); });
  writer_thread_ = std::thread([this] { WriterLoop(); });
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&answered_), absl::FromChrono(wait));
  if (answered_) return first_outcome_;
  return absl::UnavailableError(
      absl::StrCat("coordinator ", coordinators_->joined(), " did not answer yet; still trying"));
}

void CoordinatorLink::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  if (link_thread_.joinable()) link_thread_.join();
  if (writer_thread_.joinable()) writer_thread_.join();
}

void CoordinatorLink::LinkLoop() {
  auto retry = options_.min_retry;
  for (;;) {
    bool registered = false;
    absl::Status ended = RunLink(registered);
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    if (!answered_ && IsRefusal(ended)) {
      answered_ = true;  // the operator must fix this: stop, and say why
      first_outcome_ = ended;
      return;
    }
    std::fprintf(stderr, "poold: link to coordinator %s: %s; retrying at %s\n",
                 options_.coordinator.c_str(), ended.ToString().c_str(),
                 coordinators_->current().c_str());
    if (registered) retry = options_.min_retry;
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(retry));
    if (stopping_) return;
    retry = std::min(retry * 2, options_.max_retry);
  }
}

absl::Status CoordinatorLink::RunLink(bool& registered) {
  grpc::ClientContext context;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("stopping");
    context_ = &context;
  }
  const std::string address = coordinators_->current();
  std::unique_ptr<grpc::ClientReaderWriter<v1::NodeLinkRequest, v1::NodeLinkResponse>> stream =
      coordinators_->Stub(address).NodeLink(&context);
  v1::NodeLinkRequest hello;
  *hello.mutable_hello() = node_.hello();
  hello.mutable_hello()->set_join_token(options_.join_token);
  hello.mutable_hello()->set_node_major(kProtocolMajor);
  hello.mutable_hello()->set_node_minor(kProtocolMinor);
  v1::NodeLinkResponse response;
  bool answered = false;
  if (stream->Write(hello) && (answered = stream->Read(&response)) && response.has_registered()) {
    registered = true;
    absl::MutexLock lock(&mu_);
    stream_ = stream.get();
    node_name_ = hello.hello().name();
    node_secret_ = response.registered().node_secret();
    registered_at_ = address;
    heartbeat_ =
        std::chrono::milliseconds(std::max<uint32_t>(response.registered().heartbeat_ms(), 50));
    answered_ = true;
    first_outcome_ = absl::OkStatus();
  }
  if (registered) {
    while (stream->Read(&response)) {
      if (response.has_lease_ended() && node_.listener != nullptr) {
        node_.listener->OnLeaseEnded(response.lease_ended().lease_id(),
                                     FromProto(response.lease_ended().why()));
      }
    }
  }
  {
    absl::MutexLock lock(&mu_);
    stream_ = nullptr;
    node_secret_.clear();
  }
  // Wait out a write in flight on this stream before it goes away.
  { absl::MutexLock wait_for_writer(&write_mu_); }
  // An unexpected first answer leaves the call open: Finish would wait for
  // a server that waits for us. (A refusal has ended the call already, and
  // cancelling it now would hide its reason.)
  if (answered && !registered) context.TryCancel();
  const grpc::Status grpc_finished = stream->Finish();
  // A standby (which names the leader), a coordinator gone, or a leader that
  // stepped down: the next try goes where the leader is now.
  coordinators_->MoveOn(address, grpc_finished, context);
  absl::Status finished = FromGrpc(grpc_finished, absl::StrCat("node link to ", address));
  {
    absl::MutexLock lock(&mu_);
    context_ = nullptr;
  }
  if (!finished.ok() && (!registered || finished.code() != absl::StatusCode::kCancelled)) {
    return finished;
  }
  return absl::UnavailableError("the coordinator closed the link");
}

void CoordinatorLink::WriterLoop() {
  for (;;) {
    std::vector<v1::NodeLinkRequest> messages;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(
          absl::Condition(
              +[](CoordinatorLink* l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(l->mu_) {
                return l->stopping_ ||
                       (l->stream_ != nullptr && (!l->usage_.empty() || !l->sessions_.empty()));
              },
              this),
          // Twice per period: a late wake-up on a busy host must not
          // look like a silent node.
          absl::FromChrono(heartbeat_ / 2));
      if (stopping_) return;
      if (stream_ == nullptr) continue;  // reports wait for the next registration
      // Every wake carries a heartbeat: reports prove the node alive too.
      messages.emplace_back().set_heartbeat(true);
      // Usage first: a session's last report must arrive before its close,
      // which ends the lease.
      for (auto& [lease_id, usage] : usage_) {
        *messages.emplace_back().mutable_usage() = std::move(usage);
      }
      usage_.clear();
      for (v1::SessionState& s : sessions_)
        *messages.emplace_back().mutable_session() = std::move(s);
      sessions_.clear();
    }
    // Not under mu_: a slow coordinator must not stall the node's sessions
    // as they report. The link's teardown takes write_mu_ before the stream
    // goes away.
    absl::MutexLock write(&write_mu_);
    grpc::ClientReaderWriter<v1::NodeLinkRequest, v1::NodeLinkResponse>* stream = nullptr;
    {
      absl::MutexLock lock(&mu_);
      stream = stream_;
    }
    // A failed write means the link is ending; its reader sees that.
    for (const v1::NodeLinkRequest& m : messages) {
      if (stream == nullptr || !stream->Write(m)) break;
    }
  }
}

absl::StatusOr<v1::LeaseInfo> CoordinatorLink::Admit(const std::string& lease_id,
                                                     const std::string& token,
                                                     const std::string& node) {
  v1::AdmitRequest request;
  std::string address;
  {
    absl::MutexLock lock(&mu_);
    if (node_secret_.empty()) {
      return absl::UnavailableError(
          absl::StrCat("this node is not registered with its coordinator ", coordinators_->joined(),
                       " right now; new sessions wait for the link"));
    }
    request.set_node_secret(node_secret_);
    address = registered_at_;
  }
  request.set_node(node);
  request.set_lease_id(lease_id);
  request.set_token(token);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::LeaseInfo lease;
  grpc::Status status = coordinators_->Stub(address).Admit(&context, request, &lease);
  if (!status.ok()) return FromGrpc(status, "admission by the coordinator");
  return lease;
}

void CoordinatorLink::ReportUsage(const std::string&, const v1::LeaseUsage& usage) {
  absl::MutexLock lock(&mu_);
  usage_[usage.lease_id()] = usage;
}

void CoordinatorLink::ReportSession(const std::string&, const std::string& lease_id, bool open) {
  absl::MutexLock lock(&mu_);
  v1::SessionState& state = sessions_.emplace_back();
  state.set_lease_id(lease_id);
  state.set_open(open);
}

}  // namespace accel::pool
