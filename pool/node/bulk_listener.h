// The node's bulk-channel listener: accepts TCP connections on the node's
// host, reads each one's session key and hands the socket to that session.
// When the pool serves TLS, each connection first completes a TLS handshake
// (bulk_tls.h) and its key arrives sealed. A connection with an unknown
// key, or without its handshake and whole key within a second, is closed;
// handshakes proceed side by side, so none waits on another.
#ifndef ACCEL_POOL_NODE_BULK_LISTENER_H_
#define ACCEL_POOL_NODE_BULK_LISTENER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "pool/common/bulk_socket.h"
#include "pool/common/bulk_tls.h"

namespace accel::pool {

class BulkListener {
 public:
  // Gives the socket to the session with `key`, which answers the client
  // on it (one byte, 1); false if there is no such session.
  using Attach = std::function<bool(const std::string& key, std::unique_ptr<BulkSocket>&)>;

  // Listens on `host` (as in --listen) at `port` (0: an ephemeral one).
  // With `tls`, connections are TLS and their sockets sealed.
  static absl::StatusOr<std::unique_ptr<BulkListener>> Start(const std::string& host, uint16_t port,
                                                             std::unique_ptr<BulkTlsServer> tls,
                                                             Attach attach);
  ~BulkListener();  // stops accepting
  BulkListener(const BulkListener&) = delete;
  BulkListener& operator=(const BulkListener&) = delete;

  uint16_t port() const { return port_; }

 private:
  BulkListener(int fd, uint16_t port, std::unique_ptr<BulkTlsServer> tls, Attach attach);
  void AcceptLoop();

  const int fd_;
  const uint16_t port_;
  const std::unique_ptr<BulkTlsServer> tls_;
  Attach attach_;
  std::thread thread_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_NODE_BULK_LISTENER_H_
