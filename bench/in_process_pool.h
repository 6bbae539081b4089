// A standalone pool inside the benchmark's own process, started as poold
// starts one (pool/poold/poold.h) on 127.0.0.1, serving host backend
// devices. Everything a client meets is real, each session's worker
// process included; only poold's own process boundary is left out, so that
// no further process competes for this machine's two cores in ways the run
// cannot see.
#ifndef ACCEL_BENCH_IN_PROCESS_POOL_H_
#define ACCEL_BENCH_IN_PROCESS_POOL_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "accel/hal/hal.h"
#include "pool/common/tls.h"
#include "pool/poold/poold.h"

namespace accel::bench {

// A gRPC server on a free 127.0.0.1 port, with the pool's transport settings.
struct Server {
  std::unique_ptr<grpc::Server> server;
  std::string address;
};
Server StartServer(
    const std::vector<grpc::Service*>& services,
    std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials());

class InProcessPool {
 public:
  // `devices` host devices of `device_memory` bytes each; with `tls`
  // (poold's --tls_cert/--tls_key), TLS on every link, the bulk channel's
  // included.
  static absl::StatusOr<std::unique_ptr<InProcessPool>> Start(int devices, uint64_t device_memory,
                                                              const pool::TlsFiles& tls = {});

  const std::string& address() const { return poold_->address(); }
  // The devices as the node serves them, for local baselines.
  const std::vector<hal::Device>& local_devices() const { return poold_->devices(); }

 private:
  explicit InProcessPool(std::unique_ptr<pool::Poold> poold) : poold_(std::move(poold)) {}
  std::unique_ptr<pool::Poold> poold_;
};

}  // namespace accel::bench

#endif  // ACCEL_BENCH_IN_PROCESS_POOL_H_
