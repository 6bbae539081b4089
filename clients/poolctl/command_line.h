// poolctl's command line, parsed with CLI11: the global options, one verb
// (with its own --help), and the verb's arguments. A bad word is named in
// the error; `poolctl completion bash` prints a completion script made from
// the same definitions.
#ifndef ACCEL_CLIENTS_POOLCTL_COMMAND_LINE_H_
#define ACCEL_CLIENTS_POOLCTL_COMMAND_LINE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "pool/common/tls.h"

namespace accel::poolctl {

struct CommandLine {
  // Global options.
  std::string pool;          // --pool, else $ACCEL_POOL, else 127.0.0.1:7070
  std::string token;         // --token / --token_file, else $ACCEL_POOL_TOKEN
  pool::TlsFiles tls;        // --tls_*, else $ACCEL_POOL_TLS_*
  std::string admin_socket;  // "": found by the pool's port; "none": TCP
  bool json = false;         // -o json

  // The verb, its words joined ("leases", "lease explain", "tenant create"),
  // and its one argument (a lease id, node, tenant or file) if it has one.
  std::string verb;
  std::string argument;

  // tenant create / update: only the options given.
  std::optional<int32_t> priority;
  std::optional<uint32_t> max_devices, max_leases;
  std::optional<uint64_t> max_memory;
  std::optional<bool> device_isolation;
  std::optional<uint32_t> max_kernel_ms;
  bool rotate_token = false;

  // top.
  double interval_seconds = 2;
  int64_t iterations = -1;  // until interrupted
};

// What main returns when parsing says to stop: 0 after --help or a
// completion script, 2 after an error (printed).
struct Stop {
  int exit_code;
};

// Parses argv; warnings (a token on the command line) go to stderr.
// Either the command line or why to stop.
std::variant<CommandLine, Stop> ParseCommandLine(int argc, char** argv);

}  // namespace accel::poolctl

#endif  // ACCEL_CLIENTS_POOLCTL_COMMAND_LINE_H_
