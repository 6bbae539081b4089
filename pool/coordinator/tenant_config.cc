#include "pool/coordinator/tenant_config.h"

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "accel/hal/types.h"

namespace accel::pool {

absl::StatusOr<std::vector<Tenant>> ParseTenantConfig(absl::string_view text) {
  std::vector<Tenant> tenants;
  std::set<std::string> names;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    auto fail = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("line ", number, ": ", why, ": '", line, "'"));
    };
    std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (words[0] != "tenant" || words.size() < 3) {
      return fail("expected 'tenant NAME [key=value ...] token_sha256=HEX'");
    }
    Tenant tenant;
    tenant.name = std::string(words[1]);
    if (absl::Status s = TenantRegistry::CheckName(tenant.name); !s.ok()) return fail(s.message());
    if (!names.insert(tenant.name).second) return fail("tenant defined twice");
    for (size_t i = 2; i < words.size(); ++i) {
      std::vector<absl::string_view> kv = absl::StrSplit(words[i], absl::MaxSplits('=', 1));
      if (kv.size() != 2) return fail(absl::StrCat("'", words[i], "' is not key=value"));
      const absl::string_view key = kv[0], value = kv[1];
      bool ok = true;
      if (key == "priority") {
        ok = absl::SimpleAtoi(value, &tenant.priority);
      } else if (key == "devices") {
        ok = absl::SimpleAtoi(value, &tenant.max_devices);
      } else if (key == "leases") {
        ok = absl::SimpleAtoi(value, &tenant.max_leases);
      } else if (key == "memory") {
        absl::StatusOr<uint64_t> bytes = hal::ParseByteSize(value);
        if (!bytes.ok()) return fail(bytes.status().message());
        tenant.max_memory = *bytes;
      } else if (key == "token_sha256") {
        tenant.token_sha256 = std::string(value);
      } else if (key == "isolation") {
        if (value != "device" && value != "shared") {
          return fail(absl::StrCat("isolation is 'device' or 'shared', not '", value, "'"));
        }
        tenant.device_isolation = value == "device";
      } else if (key == "max_kernel_seconds") {
        double seconds = 0;
        ok = absl::SimpleAtod(value, &seconds) && seconds >= 0 && seconds <= 86400;
        // Converted only once in range: a negative or NaN value has no
        // unsigned form (the fuzzer found -5).
        if (ok) tenant.max_kernel_ms = static_cast<uint32_t>(seconds * 1000);
      } else {
        return fail(absl::StrCat("unknown key '", key,
                                 "' (priority, devices, memory, leases, isolation, "
                                 "max_kernel_seconds, token_sha256)"));
      }
      if (!ok) return fail(absl::StrCat("'", value, "' is not a number for ", key));
    }
    if (tenant.token_sha256.empty()) return fail("a tenant needs token_sha256=HEX");
    // Check the hash the way the registry will, to name the line.
    TenantRegistry check;
    if (absl::Status s = check.Define(tenant); !s.ok()) return fail(s.message());
    tenants.push_back(std::move(tenant));
  }
  return tenants;
}

absl::StatusOr<std::vector<Tenant>> ReadTenantConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read tenant file ", path));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::vector<Tenant>> tenants = ParseTenantConfig(text.str());
  if (!tenants.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", tenants.status().message()));
  }
  return tenants;
}

}  // namespace accel::pool
