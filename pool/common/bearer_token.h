// Tenants and operators prove who they are with a bearer token in the
// call's "authorization" metadata, as HTTP does: "Bearer <token>".
#ifndef ACCEL_POOL_COMMON_BEARER_TOKEN_H_
#define ACCEL_POOL_COMMON_BEARER_TOKEN_H_

#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"

namespace accel::pool {

inline constexpr char kAuthorizationMetadata[] = "authorization";

// Adds the token to a call; nothing if it is empty.
inline void AttachBearerToken(grpc::ClientContext& context, const std::string& token) {
  if (!token.empty()) context.AddMetadata(kAuthorizationMetadata, "Bearer " + token);
}

// The token a call carries, or "" if it has none. Metadata in another
// scheme comes back whole, so it is refused as an unknown token rather than
// taken for no token at all.
inline std::string BearerToken(const grpc::ServerContext& context) {
  auto it = context.client_metadata().find(kAuthorizationMetadata);
  if (it == context.client_metadata().end()) return "";
  const std::string value(it->second.data(), it->second.size());
  constexpr char kScheme[] = "Bearer ";
  if (!absl::StartsWithIgnoreCase(value, kScheme)) return value.empty() ? "-" : value;
  return value.substr(sizeof(kScheme) - 1);
}

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_BEARER_TOKEN_H_
