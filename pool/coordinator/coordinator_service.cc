#include "pool/coordinator/coordinator_service.h"

#include <deque>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "pool/common/bearer_token.h"
#include "pool/common/coordinator_list.h"
#include "pool/common/status_convert.h"
#include "pool/common/tls.h"
#include "pool/common/version.h"

namespace accel::pool {

grpc::Status CoordinatorService::GetVersion(grpc::ServerContext*, const v1::VersionRequest*,
                                            v1::VersionResponse* response) {
  response->set_server_major(kProtocolMajor);
  response->set_server_minor(kProtocolMinor);
  response->set_server_build("accelpool poold");
  return grpc::Status::OK;
}

absl::StatusOr<std::shared_ptr<Coordinator>> CoordinatorService::Leading(
    grpc::ServerContext* context) {
  absl::StatusOr<std::shared_ptr<Coordinator>> coordinator = leadership_.Current();
  // Where the leader is ("" while one is being elected): the caller knows a
  // coordinator answered, and where to go.
  if (!coordinator.ok())
    context->AddTrailingMetadata(kLeaderMetadata, leadership_.view().leader_address);
  return coordinator;
}

grpc::Status CoordinatorService::GetControlPlane(grpc::ServerContext* context,
                                                 const v1::ControlPlaneRequest*,
                                                 v1::ControlPlaneResponse* response) {
  // Where the state is, and who the other coordinators are, is for
  // operators; where the leader is, every caller is told anyway.
  bool for_operator = false;
  if (absl::StatusOr<std::shared_ptr<Coordinator>> coordinator = leadership_.Current();
      coordinator.ok()) {
    absl::StatusOr<Caller> caller = Identify(**coordinator, context);
    for_operator = caller.ok() && caller->is_operator;
  }
  *response = ControlPlaneAnswer(leadership_.view(), for_operator);
  return grpc::Status::OK;
}

absl::StatusOr<Caller> CoordinatorService::Identify(Coordinator& coordinator,
                                                    const grpc::ServerContext* context) {
  if (admin_socket_) {
    if (std::optional<std::string> who = AdminSocket::Caller(context->peer())) {
      absl::StatusOr<Caller> caller = coordinator.Authenticate("", /*admin=*/true);
      if (caller.ok()) caller->identity = *std::move(who);  // the audit names the user
      return caller;
    }
  }
  const std::string token = BearerToken(*context);
  if (token.empty() && !access_.operator_names.empty()) {
    if (std::string name = PeerCommonName(*context); access_.operator_names.count(name) != 0) {
      return Caller{"", true, absl::StrCat("operator certificate ", name)};
    }
  }
  absl::StatusOr<Caller> caller = coordinator.Authenticate(token, /*admin=*/false);
  if (!caller.ok()) {
    // Who tried, never what they presented.
    coordinator.Audit("auth_failed", {{"peer", context->peer()},
                                      {"certificate", PeerCommonName(*context)},
                                      {"why", std::string(caller.status().message())}});
  }
  return caller;
}

absl::StatusOr<Caller> CoordinatorService::IdentifyOperator(Coordinator& coordinator,
                                                            const grpc::ServerContext* context) {
  absl::StatusOr<Caller> caller = Identify(coordinator, context);
  if (caller.ok() && !caller->is_operator) {
    coordinator.Audit("operator_denied", {{"by", caller->identity}, {"peer", context->peer()}});
    return absl::PermissionDeniedError(
        "operator calls need the operator's token, an operator certificate, or the admin "
        "socket on the pool's own host (which poolctl uses there by default)");
  }
  return caller;
}

grpc::Status CoordinatorService::Operate(grpc::ServerContext* context, const char* action,
                                         AuditLog::Fields fields,
                                         const std::function<absl::Status(Coordinator&)>& body) {
  absl::StatusOr<std::shared_ptr<Coordinator>> coordinator = Leading(context);
  if (!coordinator.ok()) return ToGrpc(coordinator.status());
  absl::StatusOr<Caller> caller = IdentifyOperator(**coordinator, context);
  if (!caller.ok()) return ToGrpc(caller.status());
  const absl::Status done = body(**coordinator);
  fields.insert(fields.begin(), {{"action", action}, {"by", caller->identity}});
  fields.push_back({"result", done.ok() ? "OK" : done.ToString()});
  (*coordinator)->Audit("operator_action", fields);
  return ToGrpc(done);
}

grpc::Status CoordinatorService::Lease(grpc::ServerContext* context,
                                       const v1::LeaseRequest* request,
                                       v1::LeaseResponse* response) {
  absl::StatusOr<std::shared_ptr<Coordinator>> leading = Leading(context);
  if (!leading.ok()) return ToGrpc(leading.status());
  Coordinator& coordinator = **leading;
  absl::StatusOr<Caller> caller = Identify(coordinator, context);
  if (!caller.ok()) return ToGrpc(caller.status());
  absl::StatusOr<v1::LeaseResponse> lease =
      coordinator.Lease(*request, *caller, [context] { return context->IsCancelled(); });
  if (!lease.ok()) {
    // The leader's own refusal (its state store is out of reach, say):
    // callers need not look for another coordinator (coordinator_list.h).
    // A request that waited here while the term ended is not one: its
    // caller asks the next leader.
    if (absl::StatusOr<std::shared_ptr<Coordinator>> now = Leading(context);
        now.ok() && now->get() == &coordinator) {
      context->AddTrailingMetadata("x-accel-role", "leader");
    }
    return ToGrpc(lease.status());
  }
  *response = *std::move(lease);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::Renew(grpc::ServerContext* context,
                                       const v1::RenewRequest* request,
                                       v1::RenewResponse* response) {
  absl::StatusOr<std::shared_ptr<Coordinator>> leading = Leading(context);
  if (!leading.ok()) return ToGrpc(leading.status());
  Coordinator& coordinator = **leading;
  absl::StatusOr<Caller> caller = Identify(coordinator, context);
  if (!caller.ok()) return ToGrpc(caller.status());
  absl::StatusOr<int64_t> expires =
      coordinator.Renew(request->lease_id(), request->token(), *caller);
  if (!expires.ok()) return ToGrpc(expires.status());
  response->set_expires_unix_ms(*expires);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::Release(grpc::ServerContext* context,
                                         const v1::ReleaseRequest* request, v1::ReleaseResponse*) {
  absl::StatusOr<std::shared_ptr<Coordinator>> leading = Leading(context);
  if (!leading.ok()) return ToGrpc(leading.status());
  Coordinator& coordinator = **leading;
  absl::StatusOr<Caller> caller = Identify(coordinator, context);
  if (!caller.ok()) return ToGrpc(caller.status());
  return ToGrpc(coordinator.Release(request->lease_id(), request->token(), *caller));
}

grpc::Status CoordinatorService::AdminRelease(grpc::ServerContext* context,
                                              const v1::AdminReleaseRequest* request,
                                              v1::ReleaseResponse*) {
  return Operate(context, "lease revoke", {{"lease", request->lease_id()}},
                 [&](Coordinator& c) { return c.AdminRelease(request->lease_id()); });
}

grpc::Status CoordinatorService::ListNodes(grpc::ServerContext* context,
                                           const v1::ListNodesRequest*,
                                           v1::ListNodesResponse* response) {
  absl::StatusOr<std::shared_ptr<Coordinator>> leading = Leading(context);
  if (!leading.ok()) return ToGrpc(leading.status());
  Coordinator& coordinator = **leading;
  if (absl::StatusOr<Caller> c = Identify(coordinator, context); !c.ok()) return ToGrpc(c.status());
  for (v1::NodeInfo& n : coordinator.ListNodes()) *response->add_nodes() = std::move(n);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::ListDevices(grpc::ServerContext* context,
                                             const v1::ListDevicesRequest*,
                                             v1::ListDevicesResponse* response) {
  absl::StatusOr<std::shared_ptr<Coordinator>> leading = Leading(context);
  if (!leading.ok()) return ToGrpc(leading.status());
  Coordinator& coordinator = **leading;
  if (absl::StatusOr<Caller> c = Identify(coordinator, context); !c.ok()) return ToGrpc(c.status());
  for (v1::DeviceInfo& d : coordinator.ListDevices()) *response->add_devices() = std::move(d);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::ListLeases(grpc::ServerContext* context,
                                            const v1::ListLeasesRequest* request,
                                            v1::ListLeasesResponse* response) {
  absl::StatusOr<std::shared_ptr<Coordinator>> leading = Leading(context);
  if (!leading.ok()) return ToGrpc(leading.status());
  Coordinator& coordinator = **leading;
  absl::StatusOr<Caller> caller = Identify(coordinator, context);
  if (!caller.ok()) return ToGrpc(caller.status());
  absl::StatusOr<Coordinator::LeasePage> page =
      coordinator.ListLeases(*caller, request->page_size(), request->page_token());
  if (!page.ok()) return ToGrpc(page.status());
  for (v1::LeaseInfo& l : page->leases) *response->add_leases() = std::move(l);
  response->set_next_page_token(std::move(page->next_page_token));
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::ExplainLease(grpc::ServerContext* context,
                                              const v1::ExplainLeaseRequest* request,
                                              v1::LeaseInfo* response) {
  absl::StatusOr<std::shared_ptr<Coordinator>> leading = Leading(context);
  if (!leading.ok()) return ToGrpc(leading.status());
  Coordinator& coordinator = **leading;
  absl::StatusOr<Caller> caller = Identify(coordinator, context);
  if (!caller.ok()) return ToGrpc(caller.status());
  absl::StatusOr<v1::LeaseInfo> lease = coordinator.ExplainLease(request->lease_id(), *caller);
  if (!lease.ok()) return ToGrpc(lease.status());
  *response = *std::move(lease);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::DrainNode(grpc::ServerContext* context,
                                           const v1::DrainNodeRequest* request,
                                           v1::DrainNodeResponse*) {
  return Operate(context, request->undrain() ? "uncordon" : "cordon", {{"node", request->node()}},
                 [&](Coordinator& c) { return c.Drain(request->node(), request->undrain()); });
}

grpc::Status CoordinatorService::ListTenants(grpc::ServerContext* context,
                                             const v1::ListTenantsRequest*,
                                             v1::ListTenantsResponse* response) {
  absl::StatusOr<std::shared_ptr<Coordinator>> leading = Leading(context);
  if (!leading.ok()) return ToGrpc(leading.status());
  Coordinator& coordinator = **leading;
  absl::StatusOr<Caller> caller = Identify(coordinator, context);
  if (!caller.ok()) return ToGrpc(caller.status());
  for (v1::TenantInfo& t : coordinator.ListTenants(*caller)) {
    *response->add_tenants() = std::move(t);
  }
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::PutTenant(grpc::ServerContext* context,
                                           const v1::PutTenantRequest* request,
                                           v1::PutTenantResponse* response) {
  const char* action = request->create()         ? "tenant create"
                       : request->rotate_token() ? "tenant rotate token"
                                                 : "tenant update";
  // The new token goes to the caller only, never into the log.
  return Operate(context, action, {{"tenant", request->tenant().name()}}, [&](Coordinator& c) {
    absl::StatusOr<v1::PutTenantResponse> put = c.PutTenant(*request);
    if (put.ok()) *response = *std::move(put);
    return put.status();
  });
}

grpc::Status CoordinatorService::DeleteTenant(grpc::ServerContext* context,
                                              const v1::DeleteTenantRequest* request,
                                              v1::DeleteTenantResponse*) {
  return Operate(context, "tenant delete", {{"tenant", request->name()}},
                 [&](Coordinator& c) { return c.DeleteTenant(request->name()); });
}

namespace {

// The coordinator's end of one node's link: lease ends are queued here and
// written by a thread of their own, so neither the reaper nor a client's
// release ever waits on a slow node.
class NodeLinkWriter final : public LeaseListener {
 public:
  NodeLinkWriter(grpc::ServerContext* context,
                 grpc::ServerReaderWriter<v1::NodeLinkResponse, v1::NodeLinkRequest>* stream)
      : context_(context), stream_(stream), thread_([this] { Loop(); }) {}
  ~NodeLinkWriter() override { Stop(); }

  // Writing starts with `first` (the registration's answer), ahead of any
  // lease end queued since the node became the coordinator's listener.
  void Begin(v1::NodeLinkResponse first) {
    absl::MutexLock lock(&mu_);
    queue_.push_front(std::move(first));
    started_ = true;
  }
  void OnNodeLost() override {
    absl::MutexLock lock(&mu_);
    if (context_ != nullptr) context_->TryCancel();  // the node re-registers
  }

  void OnLeaseEnded(const std::string& lease_id, const absl::Status& why) override {
    v1::NodeLinkResponse message;
    message.mutable_lease_ended()->set_lease_id(lease_id);
    ToProto(why, message.mutable_lease_ended()->mutable_why());
    Push(std::move(message));
  }
  // Flushes what is queued, then stops writing; the stream stays the handler's.
  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      context_ = nullptr;  // the handler, which owns it, is returning
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Push(v1::NodeLinkResponse message) {
    absl::MutexLock lock(&mu_);
    if (!stopping_) queue_.push_back(std::move(message));
  }
  void Loop() {
    for (;;) {
      v1::NodeLinkResponse message;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](NodeLinkWriter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) {
              return w->stopping_ || (w->started_ && !w->queue_.empty());
            },
            this));
        if (!started_ || queue_.empty()) return;
        message = std::move(queue_.front());
        queue_.pop_front();
      }
      if (!broken_ && !stream_->Write(message)) broken_ = true;  // the reader sees the end
    }
  }

  absl::Mutex mu_;
  grpc::ServerContext* context_ ABSL_GUARDED_BY(mu_);
  grpc::ServerReaderWriter<v1::NodeLinkResponse, v1::NodeLinkRequest>* const stream_;
  bool broken_ = false;  // writer thread only
  std::deque<v1::NodeLinkResponse> queue_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace

grpc::Status CoordinatorService::NodeLink(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::NodeLinkResponse, v1::NodeLinkRequest>* stream) {
  absl::StatusOr<std::shared_ptr<Coordinator>> leading = Leading(context);
  if (!leading.ok()) return ToGrpc(leading.status());
  Coordinator& coordinator = **leading;
  v1::NodeLinkRequest request;
  if (!stream->Read(&request) || !request.has_hello()) {
    return ToGrpc(absl::InvalidArgumentError("a node link begins with the node's hello"));
  }
  const v1::NodeHello& hello = request.hello();
  if (hello.node_major() != kProtocolMajor) {
    return ToGrpc(absl::FailedPreconditionError(
        absl::StrCat("node speaks protocol ", hello.node_major(), ".x; this coordinator speaks ",
                     kProtocolMajor, ".", kProtocolMinor)));
  }
  auto writer = std::make_shared<NodeLinkWriter>(context, stream);
  absl::StatusOr<Coordinator::Registration> registration =
      coordinator.RegisterNode(hello, writer, PeerCommonName(*context));
  if (!registration.ok()) {
    writer->Stop();
    coordinator.Audit("node_refused", {{"node", hello.name().substr(0, 128)},
                                       {"peer", context->peer()},
                                       {"certificate", PeerCommonName(*context)},
                                       {"why", std::string(registration.status().message())}});
    return ToGrpc(registration.status());
  }
  const std::string name = hello.name();
  v1::NodeLinkResponse registered;
  registered.mutable_registered()->set_node_secret(registration->node_secret);
  registered.mutable_registered()->set_heartbeat_ms(static_cast<uint32_t>(heartbeat_.count()));
  writer->Begin(std::move(registered));
  for (const std::string& id : registration->stale_leases) {
    writer->OnLeaseEnded(id, absl::UnavailableError("the pool no longer has this lease"));
  }

  while (stream->Read(&request)) {
    switch (request.kind_case()) {
      case v1::NodeLinkRequest::kHeartbeat:
        coordinator.NodeHeartbeat(name, registration->generation);
        break;
      case v1::NodeLinkRequest::kUsage:
        coordinator.ReportUsage(name, request.usage());
        break;
      case v1::NodeLinkRequest::kSession:
        coordinator.ReportSession(name, request.session().lease_id(), request.session().open());
        break;
      default:
        break;  // a newer node's report this coordinator does not know
    }
  }
  coordinator.NodeLinkLost(name, registration->generation,
                           context->IsCancelled() ? "its link was cut" : "it left the pool");
  writer->Stop();
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::Admit(grpc::ServerContext* context,
                                       const v1::AdmitRequest* request, v1::LeaseInfo* response) {
  absl::StatusOr<std::shared_ptr<Coordinator>> leading = Leading(context);
  if (!leading.ok()) return ToGrpc(leading.status());
  Coordinator& coordinator = **leading;
  if (absl::Status s = coordinator.CheckNodeSecret(request->node(), request->node_secret());
      !s.ok()) {
    return ToGrpc(s);
  }
  absl::StatusOr<v1::LeaseInfo> lease =
      coordinator.Admit(request->lease_id(), request->token(), request->node());
  if (!lease.ok()) return ToGrpc(lease.status());
  *response = *std::move(lease);
  return grpc::Status::OK;
}

}  // namespace accel::pool
