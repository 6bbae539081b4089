// Leasing accelerators from an accelpool pool. The lease's devices are
// ordinary HAL devices: everything in accel/hal works on them unchanged.
//
//   auto lease = accel::client::AcquireLease("127.0.0.1:7070", {.devices = 1});
//
// A highly available pool is named by its coordinators, "HOST:PORT,HOST:PORT":
// the client follows whichever of them leads.
//   accel::hal::Device device = (*lease)->devices()[0];
#ifndef ACCEL_CLIENT_LEASE_H_
#define ACCEL_CLIENT_LEASE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "accel/hal/backend.h"
#include "accel/hal/device.h"

namespace accel::client {

class PoolClient;  // the pool's coordinators and the credentials to reach them

struct LeaseRequest {
  uint32_t devices = 1;
  std::string backend;  // "" = any; else "cuda", "rocm", "levelzero", "host"
  std::string vendor;
  std::string arch;
  uint64_t min_memory = 0;  // bytes per device
  std::map<std::string, std::string> labels;
  uint32_t ttl_seconds = 0;  // 0 = the pool's default
  std::string holder;        // "" = user@host pid
  // Fractional lease: this many bytes of each device, shared with other
  // fractional leases; the node refuses allocations beyond it. 0 = whole
  // devices, held alone.
  uint64_t memory = 0;
  uint32_t compute_weight = 0;  // a fractional lease's compute share (0 = 1)
  std::string policy;           // "binpack" or "spread"; "" = the pool's default
  // When the pool is full, wait this long in its queue (0 = fail at once).
  uint32_t wait_seconds = 0;
  // Several whole devices may come from several nodes (one session each);
  // by default they all come from one node.
  bool across_nodes = false;
  // The tenant's bearer token; "" = $ACCEL_POOL_TOKEN (pools without
  // tenants need none).
  std::string token;
  // TLS to the pool (PEM files): the CA that signed its certificates, and a
  // client certificate with its key where the pool asks for one. "" =
  // $ACCEL_POOL_TLS_CA, $ACCEL_POOL_TLS_CERT, $ACCEL_POOL_TLS_KEY; none of
  // them: plaintext, for a pool on loopback.
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
};

class Lease {
 public:
  const std::string& id() const { return id_; }
  const std::vector<hal::Device>& devices() const { return backend_.devices(); }
  // Ends the lease now: the node frees everything, and later calls on its
  // devices fail with FAILED_PRECONDITION. Otherwise the lease ends when the
  // last handle to its devices goes.
  absl::Status Release();

 private:
  friend absl::StatusOr<std::unique_ptr<Lease>> AcquireLease(const std::string&,
                                                             const LeaseRequest&);
  Lease(std::string id, std::string token, std::string tenant_token,
        std::shared_ptr<PoolClient> pool, hal::Backend backend)
      : id_(std::move(id)),
        token_(std::move(token)),
        tenant_token_(std::move(tenant_token)),
        pool_(std::move(pool)),
        backend_(std::move(backend)) {}
  std::string id_;
  std::string token_;
  std::string tenant_token_;
  std::shared_ptr<PoolClient> pool_;
  hal::Backend backend_;
};

// NOT_FOUND when no devices match, RESOURCE_EXHAUSTED when all matching
// devices are leased or a quota of the tenant's would be exceeded,
// DEADLINE_EXCEEDED when it waited wait_seconds in vain, UNAUTHENTICATED
// for a missing or unknown tenant token, UNAVAILABLE when the pool cannot
// be reached.
absl::StatusOr<std::unique_ptr<Lease>> AcquireLease(const std::string& pool,
                                                    const LeaseRequest& request);

}  // namespace accel::client

#endif  // ACCEL_CLIENT_LEASE_H_
