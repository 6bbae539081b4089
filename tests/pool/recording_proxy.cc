#include "tests/pool/recording_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace accel::testing {
namespace {

sockaddr_in Loopback(int port, in_addr_t ip = htonl(INADDR_LOOPBACK)) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = ip;
  address.sin_port = htons(static_cast<uint16_t>(port));
  return address;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RecordingProxy>> RecordingProxy::Start(const std::string& target,
                                                                      const std::string& on) {
  int target_port = 0, listen_port = 0;
  in_addr listen_ip{};
  if (!absl::SimpleAtoi(target.substr(target.rfind(':') + 1), &target_port) ||
      !absl::SimpleAtoi(on.substr(on.rfind(':') + 1), &listen_port) ||
      inet_pton(AF_INET, on.substr(0, on.rfind(':')).c_str(), &listen_ip) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("want IPv4 host:port, not ", target, " or ", on));
  }
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = Loopback(listen_port, listen_ip.s_addr);
  socklen_t length = sizeof(address);
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(listener, 64) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (listener >= 0) close(listener);
    return absl::InternalError("the recording proxy cannot listen on loopback");
  }
  std::unique_ptr<RecordingProxy> proxy(new RecordingProxy(listener, on.substr(0, on.rfind(':')),
                                                           ntohs(address.sin_port), target_port));
  proxy->acceptor_ = std::thread([p = proxy.get()] { p->AcceptLoop(); });
  return proxy;
}

absl::StatusOr<std::unique_ptr<RecordingProxy>> RecordingProxy::StartOnUnixSocket(
    const std::string& target, const std::string& path) {
  int target_port = 0;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (!absl::SimpleAtoi(target.substr(target.rfind(':') + 1), &target_port) ||
      path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot forward ", path, " to ", target));
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener, 64) != 0) {
    if (listener >= 0) close(listener);
    return absl::InternalError(absl::StrCat("the recording proxy cannot listen on ", path));
  }
  std::unique_ptr<RecordingProxy> proxy(
      new RecordingProxy(listener, "unix:" + path, 0, target_port));
  proxy->acceptor_ = std::thread([p = proxy.get()] { p->AcceptLoop(); });
  return proxy;
}

RecordingProxy::~RecordingProxy() {
  stopping_ = true;
  acceptor_.join();
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    for (int fd : sockets_) shutdown(fd, SHUT_RDWR);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
  absl::MutexLock lock(&mu_);
  for (int fd : sockets_) close(fd);
  close(listener_);
}

std::string RecordingProxy::address() const {
  return port_ == 0 ? host_ : absl::StrCat(host_, ":", port_);
}

std::string RecordingProxy::recorded() {
  absl::MutexLock lock(&mu_);
  return recorded_;
}

void RecordingProxy::AcceptLoop() {
  while (!stopping_) {
    pollfd ready{listener_, POLLIN, 0};
    if (poll(&ready, 1, 100) <= 0) continue;  // checks stopping_ every 100 ms
    int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    int upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in target = Loopback(target_port_);
    if (upstream < 0 ||
        connect(upstream, reinterpret_cast<sockaddr*>(&target), sizeof(target)) != 0) {
      close(client);
      if (upstream >= 0) close(upstream);
      continue;
    }
    absl::MutexLock lock(&mu_);
    sockets_.push_back(client);
    sockets_.push_back(upstream);
    threads_.emplace_back([this, client, upstream] { Pump(client, upstream); });
    threads_.emplace_back([this, client, upstream] { Pump(upstream, client); });
  }
}

void RecordingProxy::Pump(int from, int to) {
  char buffer[64 << 10];
  for (;;) {
    ssize_t n = recv(from, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    {
      absl::MutexLock lock(&mu_);
      recorded_.append(buffer, static_cast<size_t>(n));
    }
    for (ssize_t sent = 0; sent < n;) {
      ssize_t m = send(to, buffer + sent, static_cast<size_t>(n - sent), MSG_NOSIGNAL);
      if (m <= 0) return;
      sent += m;
    }
  }
  shutdown(to, SHUT_WR);  // the other direction may still have bytes to carry
}

}  // namespace accel::testing
