// Runs a real poold on a free loopback port for a test, and stops it.
#ifndef ACCEL_TESTS_POOL_POOLD_PROCESS_H_
#define ACCEL_TESTS_POOL_POOLD_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace accel::testing {

class PooldProcess {
 public:
  // Starts poold with `args` plus --listen `listen` and waits (at most
  // 10 s) for it to print its address.
  static absl::StatusOr<std::unique_ptr<PooldProcess>> Start(
      std::vector<std::string> args, const std::string& listen = "127.0.0.1:0");
  ~PooldProcess();  // SIGKILL if still running

  const std::string& address() const { return address_; }
  // What poold printed up to its "listening" line.
  const std::string& startup_output() const { return startup_output_; }
  pid_t pid() const { return pid_; }
  // SIGTERM, then waits at most `seconds`; returns the exit status.
  absl::StatusOr<int> Stop(int seconds = 10);
  void Kill();  // SIGKILL, as a crash

 private:
  PooldProcess(pid_t pid, std::string address, std::string startup_output)
      : pid_(pid), address_(std::move(address)), startup_output_(std::move(startup_output)) {}
  pid_t pid_;
  std::string address_;
  std::string startup_output_;
};

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
