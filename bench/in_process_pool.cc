#include "bench/in_process_pool.h"

#include "absl/strings/str_cat.h"
#include "pool/common/transport.h"

namespace accel::bench {

Server StartServer(const std::vector<grpc::Service*>& services,
                   std::shared_ptr<grpc::ServerCredentials> credentials) {
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", std::move(credentials), &port);
  for (grpc::Service* s : services) builder.RegisterService(s);
  pool::ApplyBulkTransferSettings(builder);
  Server out;
  out.server = builder.BuildAndStart();
  out.address = absl::StrCat("127.0.0.1:", port);
  return out;
}

absl::StatusOr<std::unique_ptr<InProcessPool>> InProcessPool::Start(int devices,
                                                                    uint64_t device_memory,
                                                                    const pool::TlsFiles& tls) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      pool::ServerCredentials(tls);
  if (!credentials.ok()) return credentials.status();
  std::unique_ptr<InProcessPool> p(new InProcessPool());
  hal::RegistryOptions registry_options;
  registry_options.only = {"host"};
  registry_options.backend_options["host"] = {{"devices", absl::StrCat(devices)},
                                              {"device_memory", absl::StrCat(device_memory)}};
  absl::StatusOr<std::unique_ptr<hal::Registry>> registry = hal::Registry::Create(registry_options);
  if (!registry.ok()) return registry.status();
  p->registry_ = *std::move(registry);
  p->local_ = p->registry_->Devices();
  p->coordinator_ = std::make_shared<pool::Coordinator>(pool::Coordinator::Options{});
  p->leadership_ = std::make_unique<pool::Leadership>(p->coordinator_, "memory");
  pool::NodeAgent::Options node_options;
  node_options.name = "bench";
  node_options.allow_host_kernels = true;
  node_options.backend_options = registry_options.backend_options;
  p->agent_ = std::make_unique<pool::NodeAgent>(node_options, p->local_, *p->coordinator_);
  p->coordinator_service_ =
      std::make_unique<pool::CoordinatorService>(*p->leadership_, std::chrono::seconds(1));
  p->node_service_ = std::make_unique<pool::NodeService>(*p->agent_);
  pool::NodeAgent* agent = p->agent_.get();
  std::unique_ptr<pool::BulkTlsServer> bulk_tls;
  if (!tls.empty()) {
    absl::StatusOr<std::unique_ptr<pool::BulkTlsServer>> made = pool::BulkTlsServer::Create(tls);
    if (!made.ok()) return made.status();
    bulk_tls = *std::move(made);
  }
  absl::StatusOr<std::unique_ptr<pool::BulkListener>> bulk = pool::BulkListener::Start(
      "127.0.0.1", 0, std::move(bulk_tls),
      [agent](const std::string& key, std::unique_ptr<pool::BulkSocket>& s) {
        return agent->AttachBulk(key, s);
      });
  if (!bulk.ok()) return bulk.status();
  p->bulk_listener_ = *std::move(bulk);
  p->agent_->OfferBulkChannel(p->bulk_listener_->port());
  p->server_ = StartServer({p->coordinator_service_.get(), p->node_service_.get()}, *credentials);
  p->coordinator_->AddNode("bench", p->server_.address, {}, p->agent_->DeviceInfos(),
                           p->agent_.get());
  return p;
}

InProcessPool::~InProcessPool() {
  // Clients are gone by now; stop serving before the objects behind it go.
  if (server_.server != nullptr) server_.server->Shutdown();
  if (coordinator_ != nullptr) coordinator_->Stop();
}

}  // namespace accel::bench
