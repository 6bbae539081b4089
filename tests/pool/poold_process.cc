#include "tests/pool/poold_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace accel::testing {
namespace {

// fork + exec with stdout (and stderr, if `with_stderr`) on a pipe, or
// stderr into `stderr_fd` (and stdout too, with `stdout_too`); returns
// {pid, read end}.
absl::StatusOr<std::pair<pid_t, int>> Spawn(const std::string& program,
                                            const std::vector<std::string>& args, bool with_stderr,
                                            int stderr_fd = -1, bool stdout_too = false) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    // A test that crashes must not leave its poold behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(stdout_too ? stderr_fd : fds[1], STDOUT_FILENO);
    if (with_stderr) dup2(fds[1], STDERR_FILENO);
    if (stderr_fd >= 0) dup2(stderr_fd, STDERR_FILENO);
    execv(program.c_str(), argv.data());
    _exit(127);
  }
  close(fds[1]);
  return std::make_pair(pid, fds[0]);
}

// Reads from `fd` until `done(text)` or the deadline; returns what was read.
std::string ReadUntil(int fd, int seconds, const std::function<bool(const std::string&)>& done) {
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!done(text)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buffer[4096];
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  return text;
}

}  // namespace

int WaitForExit(pid_t pid, int seconds) {
  for (int i = 0; i <= seconds * 100; ++i) {
    if (i != 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
  return -1;
}

namespace {

std::string ReadFileTail(const std::string& path, size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > bytes ? "..." + text.substr(text.size() - bytes) : text;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PooldProcess>> PooldProcess::Start(std::vector<std::string> args,
                                                                  const std::string& listen) {
  args.push_back(absl::StrCat("--listen=", listen));
  char log_pattern[] = "/tmp/accel-poold-XXXXXX";
  const int log_fd = mkostemp(log_pattern, O_CLOEXEC);
  if (log_fd < 0) return absl::InternalError("cannot create poold's log file");
  const std::string log_path = log_pattern;
  absl::StatusOr<std::pair<pid_t, int>> spawned =
      Spawn(ACCEL_TEST_POOLD, args, /*with_stderr=*/false, log_fd);
  close(log_fd);
  if (!spawned.ok()) {
    unlink(log_path.c_str());
    return spawned.status();
  }
  auto [pid, fd] = *spawned;
  const std::string prefix = "poold listening on ";
  // Generous: a loaded CI machine may take seconds to start a process.
  std::string out = ReadUntil(fd, 30, [&](const std::string& t) {
    size_t at = t.find(prefix);
    return at != std::string::npos && t.find(',', at) != std::string::npos;
  });
  close(fd);  // poold's later output goes nowhere (it ignores SIGPIPE via gRPC)
  size_t at = out.find(prefix);
  if (at == std::string::npos) {
    int status = WaitForExit(pid, 0);
    if (status < 0) {
      kill(pid, SIGKILL);
      WaitForExit(pid, 5);
    }
    const std::string log = ReadFileTail(log_path, 2000);
    unlink(log_path.c_str());
    return absl::InternalError(absl::StrCat(
        "poold did not start: ",
        status < 0 ? "still running after 30 s, killed" : absl::StrCat("exit status ", status),
        "; stdout: '", out, "'; stderr: '", log, "'"));
  }
  size_t begin = at + prefix.size();
  std::string address = out.substr(begin, out.find(',', begin) - begin);
  return std::unique_ptr<PooldProcess>(new PooldProcess(pid, address, out, log_path));
}

PooldProcess::~PooldProcess() {
  Kill();
  unlink(log_path_.c_str());
}

std::string PooldProcess::log() const { return ReadFileTail(log_path_, 1 << 20); }

absl::StatusOr<pid_t> StartBackground(const std::string& program,
                                      const std::vector<std::string>& args,
                                      const std::string& log_path) {
  const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return absl::InternalError(absl::StrCat("cannot open ", log_path));
  absl::StatusOr<std::pair<pid_t, int>> spawned =
      Spawn(program, args, /*with_stderr=*/false, log_fd, /*stdout_too=*/true);
  close(log_fd);
  if (!spawned.ok()) return spawned.status();
  close(spawned->second);
  return spawned->first;
}

std::string JoinTokenFlag() {
  static const std::string path = [] {
    std::string file = ::testing::TempDir() + "/multi_node_join_token";
    std::ofstream(file) << "multi-node-test-join-token-0123456789\n";
    return file;
  }();
  return "--join_token_file=" + path;
}

absl::StatusOr<std::unique_ptr<PooldProcess>> StartNode(const std::string& coordinator,
                                                        const std::string& name, int devices,
                                                        const std::string& labels,
                                                        std::vector<std::string> more) {
  std::vector<std::string> args = {"--coordinator=" + coordinator,
                                   "--node_name=" + name,
                                   absl::StrCat("--host_devices=", devices),
                                   "--host_device_memory=256MiB",
                                   "--labels=" + labels,
                                   "--allow_host_kernels"};
  if (std::none_of(more.begin(), more.end(),
                   [](const std::string& a) { return a.rfind("--join_token_file", 0) == 0; })) {
    args.push_back(JoinTokenFlag());
  }
  args.insert(args.end(), more.begin(), more.end());
  return PooldProcess::Start(args);
}

int FreeListenPort(int other_than) { return FreeListenPort(std::set<int>{other_than}); }

int FreeListenPort(const std::set<int>& other_than) {
  int low = 32768;  // the kernel's default start of the ephemeral range
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low;
  const int first = 10000, last = std::max(first + 1000, low - 1);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port =
        first + static_cast<int>((getpid() * 7919 + attempt * 104729) % (last - first));
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    const bool free = other_than.count(port) == 0 &&
                      bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    close(fd);
    if (free) return port;
  }
  return 0;
}

void PooldProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  WaitForExit(pid_, 10);
  pid_ = 0;
}

absl::StatusOr<int> PooldProcess::Stop(int seconds) {
  if (pid_ <= 0) return absl::FailedPreconditionError("poold is not running");
  kill(pid_, SIGTERM);
  int status = WaitForExit(pid_, seconds);
  if (status < 0) return absl::DeadlineExceededError("poold did not stop after SIGTERM");
  pid_ = 0;
  return status;
}

absl::StatusOr<std::pair<int, std::string>> RunProgram(const std::string& program,
                                                       const std::vector<std::string>& args,
                                                       int seconds) {
  absl::StatusOr<std::pair<pid_t, int>> spawned = Spawn(program, args, /*with_stderr=*/true);
  if (!spawned.ok()) return spawned.status();
  auto [pid, fd] = *spawned;
  std::string out = ReadUntil(fd, seconds, [](const std::string&) { return false; });
  close(fd);
  int status = WaitForExit(pid, 5);
  if (status < 0) {
    kill(pid, SIGKILL);
    WaitForExit(pid, 5);
    return absl::DeadlineExceededError(absl::StrCat(program, " did not finish"));
  }
  return std::make_pair(status, out);
}

absl::StatusOr<std::string> CreateTenantWithPoolctl(const std::string& pool,
                                                    const std::string& name,
                                                    const std::vector<std::string>& options,
                                                    const std::string& operator_token) {
  std::vector<std::string> args = {"--pool", pool};
  if (!operator_token.empty()) args.insert(args.end(), {"--token", operator_token});
  args.insert(args.end(), {"tenant", "create", name});
  args.insert(args.end(), options.begin(), options.end());
  absl::StatusOr<std::pair<int, std::string>> run = RunProgram(ACCEL_TEST_POOLCTL, args);
  if (!run.ok()) return run.status();
  constexpr char kShown[] = "ACCEL_POOL_TOKEN): ";
  const size_t at = run->second.find(kShown);
  if (run->first != 0 || at == std::string::npos) {
    return absl::InternalError(absl::StrCat("poolctl tenant create failed: ", run->second));
  }
  return std::string(absl::StripAsciiWhitespace(run->second.substr(at + sizeof(kShown) - 1)));
}

}  // namespace accel::testing
