// How a client opens a session: the lease, its token and the client's
// protocol version travel in the Session call's metadata, so that the node
// authenticates the stream before it reads a single message from it. An
// unauthenticated caller can make the node hold no more than the metadata
// (at most kMaxMetadataBytes); the node answers it at once.
#ifndef ACCEL_POOL_COMMON_SESSION_METADATA_H_
#define ACCEL_POOL_COMMON_SESSION_METADATA_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "pool/common/version.h"

namespace accel::pool {

inline constexpr char kLeaseMetadata[] = "x-accel-lease";
inline constexpr char kLeaseTokenMetadata[] = "x-accel-lease-token";
inline constexpr char kProtocolMetadata[] = "x-accel-protocol";  // "MAJOR.MINOR"
// What poold reads of any call's metadata (gRPC's limit, set explicitly).
inline constexpr int kMaxMetadataBytes = 16 << 10;

struct SessionCredentials {
  std::string lease_id;
  std::string token;
};

inline void AttachSessionCredentials(grpc::ClientContext& context,
                                     const SessionCredentials& session) {
  context.AddMetadata(kLeaseMetadata, session.lease_id);
  context.AddMetadata(kLeaseTokenMetadata, session.token);
  context.AddMetadata(kProtocolMetadata, absl::StrCat(kProtocolMajor, ".", kProtocolMinor));
}

// The session a call names. FAILED_PRECONDITION for a client of another
// protocol major version (or one that predates this metadata),
// UNAUTHENTICATED when the lease or its token is missing.
inline absl::StatusOr<SessionCredentials> ReadSessionCredentials(
    const grpc::ServerContext& context) {
  auto value = [&](const char* key) {
    auto it = context.client_metadata().find(key);
    return it == context.client_metadata().end()
               ? std::string()
               : std::string(it->second.data(), it->second.size());
  };
  const std::string protocol = value(kProtocolMetadata);
  uint32_t major = 0;
  if (!absl::SimpleAtoi(protocol.substr(0, protocol.find('.')), &major) ||
      major != kProtocolMajor) {
    return absl::FailedPreconditionError(
        absl::StrCat("client speaks protocol ", protocol.empty() ? "2 or older" : protocol,
                     "; this node speaks ", kProtocolMajor, ".", kProtocolMinor));
  }
  SessionCredentials session{value(kLeaseMetadata), value(kLeaseTokenMetadata)};
  if (session.lease_id.empty() || session.token.empty()) {
    return absl::UnauthenticatedError("a session names its lease and the lease's token");
  }
  return session;
}

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_SESSION_METADATA_H_
