// The operator's files under libFuzzer: the tenant file, the node config and
// the node token file. The first byte picks the parser: 0 tenants, 1 node
// config, 2 node tokens.
#include <cstddef>
#include <cstdint>

#include "pool/coordinator/node_tokens.h"
#include "pool/coordinator/tenant_config.h"
#include "pool/poold/node_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      (void)accel::pool::ParseTenantConfig(text);
      break;
    case 1:
      (void)accel::pool::ParseNodeConfig(text);
      break;
    default:
      (void)accel::pool::ParseNodeTokens(text);
      break;
  }
  return 0;
}
