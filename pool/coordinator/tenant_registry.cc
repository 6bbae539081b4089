#include "pool/coordinator/tenant_registry.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "accel/hal/types.h"
#include "pool/common/client_text.h"
#include "pool/common/random_token.h"
#include "pool/common/sha256.h"

namespace accel::pool {

std::string TenantRegistry::HashToken(absl::string_view token) {
  return absl::BytesToHexString(Sha256(token));
}

absl::Status TenantRegistry::CheckName(absl::string_view name) {
  bool valid = !name.empty() && name.size() <= 64;
  for (char c : name) {
    valid = valid && (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                      c == '.');
  }
  if (valid) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "tenant name '", ClientText(name), "' must be 1-64 letters, digits, '-', '_' or '.'"));
}

std::optional<std::string> TenantRegistry::FindByToken(absl::string_view token) const {
  if (token.empty()) return std::nullopt;
  auto it = by_token_hash_.find(HashToken(token));
  if (it == by_token_hash_.end()) return std::nullopt;
  return it->second;
}

const Tenant* TenantRegistry::Find(const std::string& name) const {
  auto it = tenants_.find(name);
  return it == tenants_.end() ? nullptr : &it->second;
}

absl::Status TenantRegistry::Define(const Tenant& tenant) {
  if (absl::Status s = CheckName(tenant.name); !s.ok()) return s;
  std::string hash = absl::AsciiStrToLower(tenant.token_sha256);
  if (hash.size() != 64 || hash.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("tenant ", tenant.name, ": token_sha256 must be 64 hex digits"));
  }
  if (auto owner = by_token_hash_.find(hash);
      owner != by_token_hash_.end() && owner->second != tenant.name) {
    return absl::InvalidArgumentError(
        absl::StrCat("tenant ", tenant.name, " has the same token as tenant ", owner->second));
  }
  if (const Tenant* old = Find(tenant.name)) by_token_hash_.erase(old->token_sha256);
  Tenant& stored = tenants_[tenant.name] = tenant;
  stored.token_sha256 = hash;
  by_token_hash_[hash] = tenant.name;
  return absl::OkStatus();
}

absl::StatusOr<std::string> TenantRegistry::Put(const v1::TenantInfo& info, bool create,
                                                bool rotate_token) {
  if (absl::Status s = CheckName(info.name()); !s.ok()) return s;
  const Tenant* old = Find(info.name());
  if (create && old != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat("tenant ", info.name(), " exists"));
  }
  if (!create && old == nullptr) {
    return absl::NotFoundError(absl::StrCat("no tenant named ", info.name()));
  }
  Tenant tenant = TenantFromSettings(info, "");
  std::string token;
  if (old == nullptr || rotate_token) {
    token = RandomHex(32);
    tenant.token_sha256 = HashToken(token);
  } else {
    tenant.token_sha256 = old->token_sha256;
  }
  if (absl::Status s = Define(tenant); !s.ok()) return s;
  return token;
}

absl::Status TenantRegistry::Remove(const std::string& name) {
  const Tenant* tenant = Find(name);
  if (tenant == nullptr) return absl::NotFoundError(absl::StrCat("no tenant named ", name));
  by_token_hash_.erase(tenant->token_sha256);
  tenants_.erase(name);
  return absl::OkStatus();
}

v1::TenantInfo TenantSettings(const Tenant& tenant) {
  v1::TenantInfo info;
  info.set_name(tenant.name);
  info.set_priority(tenant.priority);
  info.set_max_devices(tenant.max_devices);
  info.set_max_memory(tenant.max_memory);
  info.set_max_leases(tenant.max_leases);
  info.set_device_isolation(tenant.device_isolation);
  info.set_max_kernel_ms(tenant.max_kernel_ms);
  return info;
}

Tenant TenantFromSettings(const v1::TenantInfo& settings, std::string token_sha256) {
  Tenant tenant;
  tenant.name = settings.name();
  tenant.priority = settings.priority();
  tenant.max_devices = settings.max_devices();
  tenant.max_memory = settings.max_memory();
  tenant.max_leases = settings.max_leases();
  tenant.device_isolation = settings.device_isolation();
  tenant.max_kernel_ms = settings.max_kernel_ms();
  tenant.token_sha256 = std::move(token_sha256);
  return tenant;
}

v1::TenantInfo TenantRegistry::Info(const Tenant& tenant) const {
  v1::TenantInfo info = TenantSettings(tenant);
  const TenantUse use = Use(tenant.name);
  info.set_devices(use.devices);
  info.set_memory(use.memory);
  info.set_leases(use.leases - use.queued);
  info.set_queued(use.queued);
  return info;
}

std::vector<v1::TenantInfo> TenantRegistry::List() const {
  std::vector<v1::TenantInfo> out;
  for (const auto& [name, tenant] : tenants_) out.push_back(Info(tenant));
  return out;
}

std::optional<v1::TenantInfo> TenantRegistry::Describe(const std::string& name) const {
  const Tenant* tenant = Find(name);
  if (tenant == nullptr) return std::nullopt;
  return Info(*tenant);
}

absl::Status TenantRegistry::CheckQuota(const std::string& name, uint32_t devices,
                                        uint64_t memory) const {
  const Tenant* tenant = Find(name);
  if (tenant == nullptr) return absl::OkStatus();
  const TenantUse use = Use(name);
  if (tenant->max_leases != 0 && use.leases + 1 > tenant->max_leases) {
    return absl::ResourceExhaustedError(absl::StrCat("tenant ", name, " is at its quota of ",
                                                     tenant->max_leases, " concurrent lease(s) (",
                                                     use.leases, " live or queued)"));
  }
  if (tenant->max_devices != 0 && uint64_t{use.devices} + devices > tenant->max_devices) {
    return absl::ResourceExhaustedError(absl::StrCat("tenant ", name, " device quota: ", devices,
                                                     " more would make ", use.devices + devices,
                                                     " of its quota of ", tenant->max_devices));
  }
  return CheckMemoryQuota(name, memory);
}

absl::Status TenantRegistry::CheckMemoryQuota(const std::string& name, uint64_t memory) const {
  const Tenant* tenant = Find(name);
  if (tenant == nullptr || tenant->max_memory == 0) return absl::OkStatus();
  const TenantUse use = Use(name);
  if (use.memory + memory > tenant->max_memory) {
    return absl::ResourceExhaustedError(
        absl::StrCat("tenant ", name, " memory quota: ", hal::FormatByteSize(memory),
                     " more would make ", hal::FormatByteSize(use.memory + memory),
                     " of its quota of ", hal::FormatByteSize(tenant->max_memory)));
  }
  return absl::OkStatus();
}

void TenantRegistry::Charge(const std::string& tenant, int64_t devices, int64_t memory,
                            int64_t leases, int64_t queued) {
  TenantUse& use = use_[tenant];
  use.devices = static_cast<uint32_t>(use.devices + devices);
  use.memory = static_cast<uint64_t>(static_cast<int64_t>(use.memory) + memory);
  use.leases = static_cast<uint32_t>(use.leases + leases);
  use.queued = static_cast<uint32_t>(use.queued + queued);
}

TenantUse TenantRegistry::Use(const std::string& tenant) const {
  auto it = use_.find(tenant);
  return it == use_.end() ? TenantUse{} : it->second;
}

}  // namespace accel::pool
