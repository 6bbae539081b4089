// The pool's tenants: who may lease, the quotas that bound them, and what
// each uses now. A tenant proves who it is with a bearer token; only the
// token's SHA-256 is kept, so neither a listing nor the state store can leak
// a usable token.
//
// Not thread-safe: the coordinator calls it under its lock.
#ifndef ACCEL_POOL_COORDINATOR_TENANT_REGISTRY_H_
#define ACCEL_POOL_COORDINATOR_TENANT_REGISTRY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pool/common/wire.h"

namespace accel::pool {

struct Tenant {
  std::string name;
  int32_t priority = 0;
  uint32_t max_devices = 0;  // 0 = no limit
  uint64_t max_memory = 0;
  uint32_t max_leases = 0;
  std::string token_sha256;  // hex
  // isolation=device: its leases never share a device with another tenant's.
  bool device_isolation = false;
  // Replaces the pool's kernel time limits for its leases (0: the pool's).
  uint32_t max_kernel_ms = 0;
};

// A tenant's settings on the wire (without its use), and back: the token's
// hash travels beside them, never in them.
v1::TenantInfo TenantSettings(const Tenant& tenant);
Tenant TenantFromSettings(const v1::TenantInfo& settings, std::string token_sha256);

// What a tenant holds now. Queued requests count against the lease and
// device quotas, so a grant from the queue never exceeds them.
struct TenantUse {
  uint32_t devices = 0;
  uint64_t memory = 0;
  uint32_t leases = 0;  // live and queued
  uint32_t queued = 0;
};

class TenantRegistry {
 public:
  // The hex SHA-256 under which `token` is kept.
  static std::string HashToken(absl::string_view token);
  // INVALID_ARGUMENT unless 1-64 of letters, digits, '-', '_', '.'.
  static absl::Status CheckName(absl::string_view name);

  bool empty() const { return tenants_.empty(); }
  // The tenant whose token this is.
  std::optional<std::string> FindByToken(absl::string_view token) const;
  const Tenant* Find(const std::string& name) const;

  // Defines or replaces a tenant whose token hash is known (config files,
  // the state store). INVALID_ARGUMENT on a bad name or hash, or a hash
  // another tenant has.
  absl::Status Define(const Tenant& tenant);
  // An operator's create or update. Issues a token on create or when
  // `rotate_token`; returns it ("" when none was issued).
  absl::StatusOr<std::string> Put(const v1::TenantInfo& info, bool create, bool rotate_token);
  absl::Status Remove(const std::string& name);

  // Tenants with their use, by name.
  std::vector<v1::TenantInfo> List() const;
  std::optional<v1::TenantInfo> Describe(const std::string& name) const;

  // RESOURCE_EXHAUSTED naming the quota if `tenant` taking `devices` more
  // devices, `memory` more bytes and one more lease would exceed one.
  // Tenants the registry does not know (the anonymous "" tenant of a pool
  // without tenants) have no quotas.
  absl::Status CheckQuota(const std::string& tenant, uint32_t devices, uint64_t memory) const;
  // Only the memory quota, for a lease already counted.
  absl::Status CheckMemoryQuota(const std::string& tenant, uint64_t memory) const;
  // Changes what `tenant` uses by the given signed amounts.
  void Charge(const std::string& tenant, int64_t devices, int64_t memory, int64_t leases,
              int64_t queued);
  TenantUse Use(const std::string& tenant) const;

 private:
  v1::TenantInfo Info(const Tenant& tenant) const;

  std::map<std::string, Tenant> tenants_;
  absl::flat_hash_map<std::string, std::string> by_token_hash_;
  absl::flat_hash_map<std::string, TenantUse> use_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_TENANT_REGISTRY_H_
