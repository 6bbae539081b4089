// Tenants and operators prove who they are with a bearer token in the
// call's "authorization" metadata, as HTTP does: "Bearer <token>".
#ifndef ACCEL_POOL_COMMON_BEARER_TOKEN_H_
#define ACCEL_POOL_COMMON_BEARER_TOKEN_H_

#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace accel::pool {

inline constexpr char kAuthorizationMetadata[] = "authorization";

// Adds the token to a call; nothing if it is empty.
inline void AttachBearerToken(grpc::ClientContext& context, const std::string& token) {
  if (!token.empty()) context.AddMetadata(kAuthorizationMetadata, "Bearer " + token);
}

// The token in an authorization value (gRPC metadata or an HTTP header).
// A value in another scheme, or a bare token, is "-": a token no one has,
// refused as unknown rather than taken for no token at all.
inline std::string BearerTokenOf(absl::string_view value) {
  constexpr absl::string_view kScheme = "Bearer ";
  if (!absl::StartsWithIgnoreCase(value, kScheme)) return "-";
  return std::string(value.substr(kScheme.size()));
}

// The token a call carries, or "" if it has none.
inline std::string BearerToken(const grpc::ServerContext& context) {
  auto it = context.client_metadata().find(kAuthorizationMetadata);
  if (it == context.client_metadata().end()) return "";
  return BearerTokenOf(absl::string_view(it->second.data(), it->second.size()));
}

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_BEARER_TOKEN_H_
