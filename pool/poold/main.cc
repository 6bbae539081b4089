// poold: the accelpool daemon. In standalone mode (the default) one process
// is both the coordinator and the node serving this host's devices; other
// poolds join its pool with --coordinator (node mode) and serve theirs.
//
//   poold --listen 127.0.0.1:7070 [--backends auto|host,cuda,...]
//         [--host_devices 2] [--host_device_memory 1GiB] [--lease_ttl 30]
//         [--allow_host_kernels] [--node_name NAME] [--labels k=v,k=v]
//         [--config FILE] [--exclude_devices host:1,cuda:3]
//         [--coordinator HOST:PORT] [--join_token_file FILE]
//         [--advertise_address HOST:PORT]
//         [--tls_cert FILE --tls_key FILE [--tls_client_ca FILE]]
//
// The config file (see pool/poold/node_config.h) labels the node and single
// devices and excludes devices; the flags add to it.
//
// SIGHUP checks renewed TLS certificate files (poold picks them up by
// itself within a second) and logs whether they serve.
//
// SIGTERM or SIGINT shuts down gracefully: every session ends and every
// lease's memory is freed.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "pool/common/malloc_tuning.h"
#include "pool/common/mutex_tuning.h"
#include "pool/poold/flags.h"
#include "pool/poold/poold.h"

namespace {

// Process-wide settings a daemon needs, which an embedded poold leaves to
// its program.
sigset_t PrepareProcess() {
  accel::pool::TuneMallocForBulkTransfers();
  accel::pool::DisableMutexDeadlockDetection();
  // Signals are taken by sigwait, never by a handler in a random thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A daemon must not die because whoever read its stdout went away.
  signal(SIGPIPE, SIG_IGN);
  // Every client connection costs a descriptor: with the usual soft limit of
  // 1024, a flood of idle connections would leave none for real clients.
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  return signals;
}

void ParseFlags(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "the accelpool daemon: leases this host's accelerators.\n\n"
      "  poold [FLAGS]                        a pool on this host (coordinator and node)\n"
      "  poold --coordinator HOST:PORT ...    a node joining that pool\n"
      "  poold --flagfile=/etc/accelpool/FILE flags from a file, one a line\n\n"
      "--help lists poold's flags by role; --helpfull adds the libraries' own.");
  absl::FlagsUsageConfig usage;
  // Flags are grouped by role in pool/poold/flags_*.cc; absl lists a
  // program's flags by the file that defines them.
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "pool/poold/flags_");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  usage.normalize_filename = [](absl::string_view file) {
    const size_t at = file.find("pool/poold/");
    return std::string(at == absl::string_view::npos ? file : file.substr(at));
  };
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);
}

}  // namespace

int main(int argc, char** argv) {
  ParseFlags(argc, argv);
  sigset_t signals = PrepareProcess();

  absl::StatusOr<std::unique_ptr<accel::pool::Poold>> poold =
      accel::pool::Poold::Start(accel::pool::PooldOptionsFromFlags());
  if (!poold.ok()) {
    std::fprintf(stderr, "poold: %s\n", poold.status().ToString().c_str());
    return 1;
  }
  accel::pool::Poold& p = **poold;
  // Tests and scripts read these lines; "poold listening on" comes last.
  if (!p.admin_socket_path().empty()) {
    std::printf("poold admin socket at %s\n", p.admin_socket_path().c_str());
  }
  if (p.elected()) {
    std::printf("poold coordinator of the pool in %s (electing a leader, etcd lease %d s)\n",
                absl::GetFlag(FLAGS_state).c_str(), absl::GetFlag(FLAGS_election_ttl));
  }
  if (!p.metrics_url().empty()) std::printf("poold metrics on %s\n", p.metrics_url().c_str());
  if (!p.dashboard_url().empty()) {
    std::printf("poold dashboard on %s\n", p.dashboard_url().c_str());
  }
  std::printf("poold listening on %s, node %s serving %zu device(s)%s\n", p.address().c_str(),
              p.node_name().c_str(), p.devices().size(),
              p.joined_coordinator().empty()
                  ? ""
                  : absl::StrCat(" in the pool of ", p.joined_coordinator()).c_str());
  std::fflush(stdout);

  int signal = 0;
  for (;;) {
    sigwait(&signals, &signal);
    if (signal != SIGHUP) break;
    // The certificate files are watched and re-read within a second of a
    // change, without dropping sessions; SIGHUP says whether they serve.
    if (!absl::GetFlag(FLAGS_tls_cert).empty()) {
      absl::Status usable = p.CheckTlsFiles();
      std::fprintf(stderr, "poold: SIGHUP: %s\n",
                   usable.ok() ? "the TLS certificate files serve, and are in use"
                               : absl::StrCat("the TLS files do not serve (the previous ones "
                                              "stay in use): ",
                                              usable.message())
                                     .c_str());
    }
  }
  std::printf("poold: %s, shutting down\n", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  std::fflush(stdout);
  p.Shutdown();
  return 0;
}
