// Runs a real poold on a free loopback port for a test, and stops it.
#ifndef ACCEL_TESTS_POOL_POOLD_PROCESS_H_
#define ACCEL_TESTS_POOL_POOLD_PROCESS_H_

#include <sys/types.h>

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace accel::testing {

class PooldProcess {
 public:
  // Starts poold with `args` plus --listen `listen` and waits (at most
  // 30 s) for it to print its address. A poold that does not start is
  // reported with its exit status and the end of its log.
  static absl::StatusOr<std::unique_ptr<PooldProcess>> Start(
      std::vector<std::string> args, const std::string& listen = "127.0.0.1:0");
  ~PooldProcess();  // SIGKILL if still running

  const std::string& address() const { return address_; }
  // What poold printed up to its "listening" line.
  const std::string& startup_output() const { return startup_output_; }
  pid_t pid() const { return pid_; }
  // What poold has written to stderr so far.
  std::string log() const;
  // SIGTERM, then waits at most `seconds`; returns the exit status.
  absl::StatusOr<int> Stop(int seconds = 10);
  void Kill();  // SIGKILL, as a crash

 private:
  PooldProcess(pid_t pid, std::string address, std::string startup_output, std::string log_path)
      : pid_(pid),
        address_(std::move(address)),
        startup_output_(std::move(startup_output)),
        log_path_(std::move(log_path)) {}
  pid_t pid_;
  std::string address_;
  std::string startup_output_;
  std::string log_path_;
};

// --join_token_file= the multi-node tests' shared join token: nodes join
// by token or certificate, never by the address they call from.
std::string JoinTokenFlag();

// A node-mode poold joining `coordinator` (or a list of them) as `name`,
// with host devices of 256 MiB, host kernels allowed, and the tests' join
// token unless `more` names another.
absl::StatusOr<std::unique_ptr<PooldProcess>> StartNode(const std::string& coordinator,
                                                        const std::string& name, int devices,
                                                        const std::string& labels,
                                                        std::vector<std::string> more = {});

// A free port on 127.0.0.1 for a poold that must come back on the same
// one, taken below the kernel's ephemeral range: no outgoing connection
// (a node redialling its coordinator while it is down, say) can be given
// it meanwhile and keep the restarted poold from listening.
int FreeListenPort(int other_than = 0);
// Likewise, none of `other_than` (ports chosen but not yet listened on).
int FreeListenPort(const std::set<int>& other_than);

// Starts `program args...` in the background, its stdout and stderr
// appended to `log_path`; it dies with the test. Returns its pid.
absl::StatusOr<pid_t> StartBackground(const std::string& program,
                                      const std::vector<std::string>& args,
                                      const std::string& log_path);
// Waits at most `seconds` for `pid` to exit: its exit status (128 + the
// signal that killed it), or -1 while it still runs.
int WaitForExit(pid_t pid, int seconds);

// Runs `program args...` to completion (at most `seconds`); returns its exit
// status and its stdout and stderr together.
absl::StatusOr<std::pair<int, std::string>> RunProgram(const std::string& program,
                                                       const std::vector<std::string>& args,
                                                       int seconds = 30);

// `poolctl --pool POOL [--token OPERATOR] tenant create NAME OPTIONS...`:
// the new tenant's token, as poolctl printed it.
absl::StatusOr<std::string> CreateTenantWithPoolctl(const std::string& pool,
                                                    const std::string& name,
                                                    const std::vector<std::string>& options = {},
                                                    const std::string& operator_token = "");

}  // namespace accel::testing

#endif  // ACCEL_TESTS_POOL_POOLD_PROCESS_H_
