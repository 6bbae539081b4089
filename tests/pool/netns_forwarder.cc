// netns_forwarder: runs a command in a network namespace of its own, where
// the only way out is a forwarder, as a remote caller would reach a pool
// through socat or an SSH tunnel on the pool's host.
//
//   netns_forwarder UNIX_PATH PORT -- COMMAND [ARGS...]
//
// In the new namespace (which has nothing but its own loopback), every
// connection to 127.0.0.1:PORT is relayed to the Unix socket UNIX_PATH (the
// filesystem is shared, so that socket's other end is in the host's
// network). Exits with the command's status; 77 when no namespace can be
// made (not root, or no CAP_SYS_ADMIN), with the reason on stderr.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

constexpr int kCannotIsolate = 77;

int Fail(const char* what) {
  std::fprintf(stderr, "netns_forwarder: %s: %s\n", what, std::strerror(errno));
  return kCannotIsolate;
}

void Pump(int from, int to) {
  char buffer[64 << 10];
  for (;;) {
    const ssize_t n = recv(from, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    for (ssize_t sent = 0; sent < n;) {
      const ssize_t m = send(to, buffer + sent, static_cast<size_t>(n - sent), MSG_NOSIGNAL);
      if (m <= 0) return;
      sent += m;
    }
  }
  shutdown(to, SHUT_WR);
}

void Relay(int listener, const std::string& path) {
  for (;;) {
    const int client = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EINTR) continue;
      return;
    }
    sockaddr_un target{};
    target.sun_family = AF_UNIX;
    std::memcpy(target.sun_path, path.data(), path.size());
    const int upstream = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (upstream < 0 ||
        connect(upstream, reinterpret_cast<sockaddr*>(&target), sizeof(target)) != 0) {
      close(client);
      if (upstream >= 0) close(upstream);
      continue;
    }
    std::thread([client, upstream] { Pump(client, upstream); }).detach();
    std::thread([client, upstream] { Pump(upstream, client); }).detach();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5 || std::strcmp(argv[3], "--") != 0) {
    std::fprintf(stderr, "usage: netns_forwarder UNIX_PATH PORT -- COMMAND [ARGS...]\n");
    return 2;
  }
  const std::string path = argv[1];
  const int port = std::atoi(argv[2]);
  if (path.size() >= sizeof(sockaddr_un{}.sun_path) || port <= 0 || port > 65535) {
    std::fprintf(stderr, "netns_forwarder: bad path or port\n");
    return 2;
  }
  if (unshare(CLONE_NEWNET) != 0) return Fail("unshare(CLONE_NEWNET)");
  // A new namespace's loopback is down.
  const int control = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq loopback{};
  std::strncpy(loopback.ifr_name, "lo", IFNAMSIZ - 1);
  if (control < 0 || ioctl(control, SIOCGIFFLAGS, &loopback) != 0) return Fail("lo flags");
  loopback.ifr_flags |= IFF_UP;
  if (ioctl(control, SIOCSIFFLAGS, &loopback) != 0) return Fail("bring lo up");
  close(control);

  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener, 16) != 0) {
    return Fail("listen in the namespace");
  }
  std::thread(Relay, listener, path).detach();

  const pid_t child = fork();
  if (child < 0) return Fail("fork");
  if (child == 0) {
    execv(argv[4], argv + 4);
    std::fprintf(stderr, "netns_forwarder: cannot run %s: %s\n", argv[4], std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  // The relay threads end with the process, without running destructors
  // under them.
  std::fflush(nullptr);
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}
