// TLS for the pool's gRPC links: the files a process names, and the gRPC
// credentials made from them. Without files a link is plaintext, which is
// for loopback demos and tests; poold warns when it serves plaintext beyond
// loopback.
#ifndef ACCEL_POOL_COMMON_TLS_H_
#define ACCEL_POOL_COMMON_TLS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace accel::pool {

struct TlsFiles {
  std::string ca;    // PEM bundle the peer's certificate must chain to
  std::string cert;  // PEM certificate chain presented to the peer
  std::string key;   // its PEM private key
  bool empty() const { return ca.empty() && cert.empty() && key.empty(); }
};

// ACCEL_POOL_TLS_CA, ACCEL_POOL_TLS_CERT, ACCEL_POOL_TLS_KEY: the client side.
TlsFiles TlsFilesFromEnvironment();

// A client's credentials: TLS verifying the server against `files.ca` (and
// presenting `files.cert` when given) or, for empty files, plaintext.
// INVALID_ARGUMENT naming the file when one cannot be read or is not PEM, or
// when a certificate comes without its key.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(const TlsFiles& files);

// poold's credentials: its certificate and key, re-read from their files
// when they change (a renewed certificate takes effect without a restart and
// without dropping sessions); with `files.ca`, client certificates are
// requested and verified against it. Plaintext for empty files. The files
// are checked now, so a bad one is a startup error naming it.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const TlsFiles& files);

// Checks that `files` can serve (a parsable certificate whose key matches,
// and a parsable CA): what poold runs at startup and on SIGHUP.
absl::Status CheckServerFiles(const TlsFiles& files);

// The identity a verified client certificate carries: its subject common
// name, "" when the peer presented none (or the link is plaintext).
std::string PeerCommonName(const grpc::ServerContext& context);

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_TLS_H_
