// The operator's node token file (poold --node_tokens PATH): each node's own
// join secret, so that nodes need not share one and a node's credential
// names it. One node a line:
//
//   node gpu-7 token_sha256=<64 hex>
//
// Only the SHA-256 is written down (`printf %s "$TOKEN" | sha256sum`); the
// node presents its token with --join_token_file.
#ifndef ACCEL_POOL_COORDINATOR_NODE_TOKENS_H_
#define ACCEL_POOL_COORDINATOR_NODE_TOKENS_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace accel::pool {

// Node name -> lowercase hex SHA-256; INVALID_ARGUMENT naming the line.
absl::StatusOr<std::map<std::string, std::string>> ParseNodeTokens(absl::string_view text);
absl::StatusOr<std::map<std::string, std::string>> ReadNodeTokens(const std::string& path);

}  // namespace accel::pool

#endif  // ACCEL_POOL_COORDINATOR_NODE_TOKENS_H_
