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
  pool::PooldOptions options;
  options.listen = "127.0.0.1:0";
  options.backends = "host";
  options.host_devices = devices;
  options.host_device_memory = absl::StrCat(device_memory);
  options.allow_host_kernels = true;
  options.node_name = "bench";
  options.admin_socket = "none";
  options.tls_cert = tls.cert;
  options.tls_key = tls.key;
  options.tls_client_ca = tls.ca;
  absl::StatusOr<std::unique_ptr<pool::Poold>> poold = pool::Poold::Start(std::move(options));
  if (!poold.ok()) return poold.status();
  return std::unique_ptr<InProcessPool>(new InProcessPool(*std::move(poold)));
}

}  // namespace accel::bench
