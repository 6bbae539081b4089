// The TLS handshake that opens a bulk channel when the pool serves TLS. It
// authenticates the node to the client exactly as the gRPC links do (the
// pool's certificate, checked against the client's CA for the node's
// address) and, when the pool verifies client certificates, checks the
// client's. Both ends then export the channel's keys from the handshake
// and seal every byte that follows (sealed_chunks.h); the TLS session itself
// carries no data.
#ifndef ACCEL_POOL_COMMON_BULK_TLS_H_
#define ACCEL_POOL_COMMON_BULK_TLS_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pool/common/sealed_chunks.h"
#include "pool/common/tls.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace accel::pool {

// The node's side: its certificate and key (and CA for client
// certificates), re-read when the files change, as the gRPC server does.
class BulkTlsServer {
 public:
  static absl::StatusOr<std::unique_ptr<BulkTlsServer>> Create(const TlsFiles& files);
  ~BulkTlsServer();
  BulkTlsServer(const BulkTlsServer&) = delete;
  BulkTlsServer& operator=(const BulkTlsServer&) = delete;

  // One handshake on a non-blocking socket, driven by the caller's poll loop.
  class Handshake {
   public:
    ~Handshake();
    Handshake(const Handshake&) = delete;
    Handshake& operator=(const Handshake&) = delete;
    // Goes as far as the socket allows; an error ends the handshake.
    absl::Status Step();
    bool done() const { return done_; }
    // What to poll the socket for before the next Step().
    short events() const { return events_; }
    // The channel's keys, once done.
    const ChannelKeys& keys() const { return keys_; }

   private:
    friend class BulkTlsServer;
    explicit Handshake(SSL* ssl) : ssl_(ssl) {}
    SSL* const ssl_;
    bool done_ = false;
    short events_;
    ChannelKeys keys_;
  };
  // INTERNAL if OpenSSL cannot start one.
  absl::StatusOr<std::unique_ptr<Handshake>> Begin(int fd);

 private:
  BulkTlsServer(const TlsFiles& files, SSL_CTX* context);
  SSL_CTX* Current();

  const TlsFiles files_;
  absl::Mutex mu_;
  SSL_CTX* context_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point checked_ ABSL_GUARDED_BY(mu_);
  std::string stamp_ ABSL_GUARDED_BY(mu_);  // the files' sizes and times when loaded
};

// The client's side, on a connected blocking socket: verifies the node's
// certificate against `files.ca` (the system's roots when empty) for `host`,
// presents `files.cert` when given, and returns the channel's keys.
// UNAVAILABLE naming the reason when the handshake fails or takes longer
// than `timeout_ms`.
absl::StatusOr<ChannelKeys> BulkTlsConnect(int fd, const std::string& host, const TlsFiles& files,
                                           int timeout_ms);

}  // namespace accel::pool

#endif  // ACCEL_POOL_COMMON_BULK_TLS_H_
