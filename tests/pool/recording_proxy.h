// A TCP forwarder on loopback that keeps a copy of every byte it relays, in
// both directions: what an observer on the network between a client and
// poold would capture.
#ifndef ACCEL_TESTS_POOL_RECORDING_PROXY_H_
#define ACCEL_TESTS_POOL_RECORDING_PROXY_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace accel::testing {

class RecordingProxy {
 public:
  // Listens on `listen` (an IPv4 loopback "host:port"; port 0 for a free
  // one) and forwards each connection to `target` ("127.0.0.1:PORT").
  static absl::StatusOr<std::unique_ptr<RecordingProxy>> Start(
      const std::string& target, const std::string& listen = "127.0.0.1:0");
  // Listens on the Unix socket `path` instead: what a forwarder like socat
  // offers callers that cannot reach loopback (another network namespace).
  static absl::StatusOr<std::unique_ptr<RecordingProxy>> StartOnUnixSocket(
      const std::string& target, const std::string& path);
  ~RecordingProxy();  // closes every connection and joins its threads

  std::string address() const;  // "host:port", or "unix:PATH"
  // Everything relayed so far, both directions interleaved.
  std::string recorded();
  uint64_t bytes() { return recorded().size(); }

 private:
  RecordingProxy(int listener, std::string host, int port, int target_port)
      : listener_(listener), host_(std::move(host)), port_(port), target_port_(target_port) {}
  void AcceptLoop();
  void Pump(int from, int to);

  const int listener_;
  const std::string host_;
  const int port_;
  const int target_port_;
  std::atomic<bool> stopping_{false};
  absl::Mutex mu_;
  std::string recorded_ ABSL_GUARDED_BY(mu_);
  std::vector<int> sockets_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::thread acceptor_;
};

}  // namespace accel::testing

#endif  // ACCEL_TESTS_POOL_RECORDING_PROXY_H_
