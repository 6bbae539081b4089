#include "pool/node/session_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "pool/common/status_convert.h"

extern char** environ;

namespace accel::pool {
namespace {

// Where the worker finds its links (pool/worker/worker_main.cc).
constexpr int kWorkerSessionFd = 3;
constexpr int kWorkerControlFd = 4;

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// A socket pair whose descriptors are above the worker's fixed ones, so
// that moving them into place in the child always makes a fresh descriptor.
absl::Status LinkPair(int fds[2]) {
  int raw[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, raw) != 0) return Errno("socketpair");
  for (int i = 0; i < 2; ++i) {
    fds[i] = fcntl(raw[i], F_DUPFD_CLOEXEC, 10);
    close(raw[i]);
  }
  if (fds[0] < 0 || fds[1] < 0) {
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    return Errno("fcntl(F_DUPFD_CLOEXEC)");
  }
  return absl::OkStatus();
}

// Why a worker ended, from its wait status.
absl::Status ExitCause(pid_t pid, const siginfo_t& info) {
  const std::string who = absl::StrCat("the session's worker process (pid ", pid, ")");
  if (info.si_code == CLD_EXITED) {
    if (info.si_status == 0) return absl::OkStatus();
    return absl::InternalError(
        absl::StrCat(who, " exited with status ", info.si_status, "; the session is over"));
  }
  const int sig = info.si_status;
  if (sig == SIGSYS) {
    return absl::AbortedError(absl::StrCat(
        who, " was killed by its sandbox (signal ", sig,
        ", SIGSYS): a kernel of this session made a forbidden system call (the network, "
        "another process, or a way out of the sandbox); the session is over"));
  }
  return absl::AbortedError(absl::StrCat(
      who, " was killed by signal ", sig, " (", strsignal(sig),
      "): most likely a kernel of this session faulted; the session is over, and the device's "
      "other sessions carry on"));
}

}  // namespace

std::string DefaultWorkerPath() {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "accel-session-worker";
  std::string path(self, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/') + 1) + "accel-session-worker";
}

absl::StatusOr<std::shared_ptr<SessionProcess>> SessionProcess::Start(
    Config config, std::shared_ptr<SessionLink> link, UsageReporter usage) {
  int session_pair[2], control_pair[2];
  if (absl::Status s = LinkPair(session_pair); !s.ok()) return s;
  if (absl::Status s = LinkPair(control_pair); !s.ok()) {
    close(session_pair[0]);
    close(session_pair[1]);
    return s;
  }
  // The worker's ends are closed here whatever happens; the node's ends
  // belong to the SessionProcess, or are closed on failure.
  absl::Cleanup close_worker_ends = [&] {
    close(session_pair[1]);
    close(control_pair[1]);
  };
  absl::Cleanup close_node_ends = [&] {
    close(session_pair[0]);
    close(control_pair[0]);
  };

  // The worker's stderr: a pipe whose lines poold relays into its log
  // (WorkerLog), never poold's own stderr.
  int log_pipe[2];
  if (pipe2(log_pipe, O_CLOEXEC) != 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot make a pipe for the session worker's log: ", std::strerror(errno)));
  }
  absl::Cleanup close_log_writer = [&] { close(log_pipe[1]); };
  absl::Cleanup close_log_reader = [&] { close(log_pipe[0]); };

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  absl::Cleanup destroy_actions = [&] { posix_spawn_file_actions_destroy(&actions); };
  // Not poold's terminal, output or log.
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, log_pipe[1], STDERR_FILENO);
  posix_spawn_file_actions_adddup2(&actions, session_pair[1], kWorkerSessionFd);
  posix_spawn_file_actions_adddup2(&actions, control_pair[1], kWorkerControlFd);
  // Nothing else of the node's crosses: not its listeners, not other
  // sessions' sockets.
  posix_spawn_file_actions_addclosefrom_np(&actions, kWorkerControlFd + 1);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  absl::Cleanup destroy_attributes = [&] { posix_spawnattr_destroy(&attributes); };
  // poold blocks its shutdown signals in every thread; the worker must not
  // inherit that.
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);

  const std::string lease_id = config.init.lease().lease_id();
  std::vector<std::string> args = {config.worker_path, "--lease", lease_id};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (int error = posix_spawn(&pid, config.worker_path.c_str(), &actions, &attributes, argv.data(),
                              environ);
      error != 0) {
    return absl::InternalError(absl::StrCat("cannot start the session worker ", config.worker_path,
                                            ": ", std::strerror(error)));
  }
  std::move(close_node_ends).Cancel();
  std::shared_ptr<SessionProcess> process(new SessionProcess(
      std::move(config), std::move(link), std::move(usage), pid, session_pair[0], control_pair[0]));
  std::move(close_log_writer).Invoke();  // the worker's now
  try {
    process->log_ = std::make_unique<WorkerLog>(lease_id, log_pipe[0]);
    std::move(close_log_reader).Cancel();
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the node cannot start a thread for this session: ", e.what()));
  }

  // The worker opens its devices, then says whether it serves the lease.
  const auto timeout = absl::ToTimeval(absl::FromChrono(process->config_.start_timeout));
  setsockopt(session_pair[0], SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  worker::v1::WorkerReady ready;
  absl::Status started = process->session_.Write(process->config_.init);
  if (started.ok()) started = process->session_.Read(ready);
  const timeval forever{0, 0};
  setsockopt(session_pair[0], SOL_SOCKET, SO_RCVTIMEO, &forever, sizeof(forever));
  if (!started.ok()) {
    process->Kill();
    absl::Status cause = process->WorkerExit();
    return absl::UnavailableError(
        absl::StrCat("the session's worker did not start: ", started.message(),
                     cause.ok() ? "" : absl::StrCat("; ", cause.message())));
  }
  if (absl::Status served = FromProto(ready.status()); !served.ok()) return served;

  // A node out of threads refuses this one session; it never aborts.
  try {
    std::vector<bool> takes_turns;
    for (size_t i = 0; i < process->config_.shares.size(); ++i) {
      const bool shared = process->config_.shares[i] != nullptr;
      process->seats_.push_back(
          shared ? ComputeShares::Join(process->config_.shares[i], process->config_.weights[i])
                 : nullptr);
      const bool watched = i < process->config_.kernel_limits.size() &&
                           process->config_.kernel_limits[i].count() > 0;
      takes_turns.push_back(shared || watched);
    }
    const size_t turn_devices = std::count(takes_turns.begin(), takes_turns.end(), true);
    if (turn_devices > 0) {
      process->turn_threads_ = std::make_unique<ExecutorThreads>(turn_devices, turn_devices);
    }
    for (bool turns : takes_turns) {
      process->turn_queues_.push_back(
          turns ? std::make_unique<SerialExecutor>(*process->turn_threads_) : nullptr);
    }
    process->relay_ = std::thread([p = process.get()] { p->RelayResponses(); });
    process->reports_ = std::thread([p = process.get()] { p->ReadReports(); });
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the node cannot start a thread for this session: ", e.what()));
  }
  return process;
}

SessionProcess::SessionProcess(Config config, std::shared_ptr<SessionLink> link,
                               UsageReporter usage, pid_t pid, int session_fd, int control_fd)
    : config_(std::move(config)),
      link_(std::move(link)),
      usage_(std::move(usage)),
      pid_(pid),
      session_(session_fd),
      control_(control_fd) {}

SessionProcess::~SessionProcess() {
  {
    absl::MutexLock lock(&mu_);
    ended_ = true;
  }
  Kill();
  session_.Shutdown();
  control_.Shutdown();
  if (relay_.joinable()) relay_.join();
  if (reports_.joinable()) reports_.join();
  turn_queues_.clear();  // their turns end: the control link is closed
  seats_.clear();
  // Waits for it to have exited (its cause no longer matters), then reaps it.
  WorkerExit().IgnoreError();
  {
    absl::MutexLock lock(&mu_);
    reaped_ = true;
  }
  int status = 0;
  waitpid(pid_, &status, 0);
  // The worker is gone and with it every byte it held: the coordinator
  // hears that the lease uses nothing any more.
  Report(0);
}

void SessionProcess::Report(std::optional<uint64_t> memory_in_use) {
  if (!usage_) return;
  // One report at a time, so that an older figure never follows a newer.
  absl::MutexLock lock(&report_mu_);
  if (memory_in_use) memory_in_use_ = *memory_in_use;
  v1::LeaseUsage usage;
  usage.set_lease_id(lease_id());  // a worker speaks for its own lease only
  usage.set_memory_in_use(memory_in_use_);
  usage.set_launches(launches_);
  usage.set_bytes_to_device(bytes_to_device_);
  usage.set_bytes_to_host(bytes_to_host_);
  usage_(usage);
}

void SessionProcess::Kill() {
  absl::MutexLock lock(&mu_);
  // Until it is reaped, the pid cannot belong to anyone else.
  if (!reaped_) kill(pid_, SIGKILL);
}

absl::Status SessionProcess::WorkerExit() {
  siginfo_t info{};
  // A worker whose links closed is exiting; one that closed them and lives
  // on is killed after a while.
  for (int i = 0; i < 100; ++i) {
    info.si_pid = 0;
    if (waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid_) {
      return ExitCause(pid_, info);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill();
  while (waitid(P_PID, pid_, &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
  }
  return ExitCause(pid_, info);
}

void SessionProcess::Execute(v1::SessionRequest& request) {
  for (const v1::Command& command : request.commands()) {
    const v1::StreamCommand& on = command.stream();
    if (on.has_launch()) {
      ++launches_;
    } else if (on.has_copy_to_device()) {
      const v1::CopyToDevice& copy = on.copy_to_device();
      bytes_to_device_ += copy.bulk_size() != 0 ? copy.bulk_size() : copy.data().size();
    } else if (on.has_copy_to_host()) {
      bytes_to_host_ += on.copy_to_host().src().size();
    }
  }
  // The coordinator hears of the traffic at most every 250 ms (the worker
  // reports memory whenever it changes).
  const auto now = std::chrono::steady_clock::now();
  if (now - traffic_reported_ >= std::chrono::milliseconds(250)) {
    traffic_reported_ = now;
    Report(std::nullopt);
  }
  // A worker that is gone is noticed by the relay, which ends the session.
  session_.Write(request).IgnoreError();
}

void SessionProcess::AttachBulk(std::unique_ptr<BulkSocket> socket) {
  worker::v1::NodeOrder order;
  worker::v1::BulkChannel* bulk = order.mutable_bulk();
  if (std::optional<ChannelKeys> keys = socket->keys()) {
    bulk->set_sealed(true);
    for (auto [from, to] : {std::pair{&keys->send, bulk->mutable_send()},
                            std::pair{&keys->receive, bulk->mutable_receive()}}) {
      to->set_key(from->key);
      to->set_iv(from->iv);
      to->set_sequence(from->sequence);
    }
  }
  // The worker reads and writes the socket itself: bulk bytes take no hop
  // through the node. Its copy here closes with `socket`.
  control_.Write(order, socket->fd()).IgnoreError();  // a worker gone ends the session
}

void SessionProcess::End(const absl::Status& why) {
  {
    absl::MutexLock lock(&mu_);
    ended_ = true;
  }
  v1::SessionResponse response;
  ToProto(why, response.add_events()->mutable_session_ended());
  // Best effort: a client that does not read must not stall the reaper.
  link_->TrySend(response);
  Abort();
}

void SessionProcess::Fail(const absl::Status& why) {
  {
    absl::MutexLock lock(&mu_);
    ended_ = true;
  }
  std::fprintf(stderr, "poold: lease %s: %s\n", lease_id().c_str(), why.ToString().c_str());
  v1::SessionResponse response;
  ToProto(why, response.add_events()->mutable_session_failed());
  link_->TrySend(response);
  Abort();
}

void SessionProcess::Abort() {
  link_->Cut();
  Kill();
}

void SessionProcess::RelayResponses() {
  v1::SessionResponse response;
  while (session_.Read(response).ok()) {
    link_->Send(response);
    response.Clear();
  }
  absl::Status cause = WorkerExit();
  bool ended = false;
  {
    absl::MutexLock lock(&mu_);
    ended = ended_;
  }
  if (!ended && !cause.ok()) Fail(cause);
  link_->Cut();
}

void SessionProcess::ReadReports() {
  worker::v1::WorkerReport report;
  while (control_.Read(report).ok()) {
    if (report.has_usage()) {
      Report(report.usage().memory_in_use());
    } else if (report.has_turn()) {
      const uint32_t device = report.turn().device();
      if (device < turn_queues_.size() && turn_queues_[device] != nullptr) {
        turn_queues_[device]->Post([this, turn = report.turn()] { ServeTurn(turn); });
      } else {
        Grant(report.turn().turn(), /*timed=*/false).IgnoreError();  // nothing to take turns on
      }
    } else if (report.has_done()) {
      absl::MutexLock lock(&mu_);
      done_[report.done().turn()] = report.done();
    }
    report.Clear();
  }
  absl::MutexLock lock(&mu_);
  control_closed_ = true;
}

absl::Status SessionProcess::Grant(uint64_t turn, bool timed) {
  worker::v1::NodeOrder order;
  order.mutable_grant()->set_turn(turn);
  order.mutable_grant()->set_timed(timed);
  return control_.Write(order);
}

absl::StatusOr<double> SessionProcess::TimedTurn(const worker::v1::TurnRequest& turn,
                                                 std::chrono::milliseconds limit) {
  if (absl::Status s = Grant(turn.turn(), /*timed=*/true); !s.ok()) return s;
  const absl::Time deadline =
      limit.count() > 0 ? absl::Now() + absl::FromChrono(limit) : absl::InfiniteFuture();
  {
    absl::MutexLock lock(&mu_);
    auto over = [this, id = turn.turn()]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return control_closed_ || done_.count(id) != 0;
    };
    mu_.AwaitWithDeadline(absl::Condition(&over), deadline);
    if (auto it = done_.find(turn.turn()); it != done_.end()) {
      const worker::v1::TurnDone done = it->second;
      done_.erase(it);
      if (done.failed()) return absl::AbortedError("the launch failed");
      return done.device_us();
    }
    if (control_closed_) return absl::UnavailableError("the session's worker is gone");
  }
  // The watchdog: the kernel has run too long. Killing its worker is the
  // only way to stop it, and frees the device for the others.
  absl::Status over_limit = absl::DeadlineExceededError(
      absl::StrCat("kernel '", turn.kernel(), "' ran longer than the ",
                   absl::FormatDuration(absl::FromChrono(limit)),
                   " a launch may run on this device (max_kernel_seconds); its session was ended"));
  Fail(over_limit);
  return over_limit;
}

void SessionProcess::ServeTurn(const worker::v1::TurnRequest& turn) {
  const uint32_t device = turn.device();
  const std::chrono::milliseconds limit = device < config_.kernel_limits.size()
                                              ? config_.kernel_limits[device]
                                              : std::chrono::milliseconds(0);
  ComputeShares::Seat* seat = device < seats_.size() ? seats_[device].get() : nullptr;
  auto timed = [&] { return TimedTurn(turn, limit); };
  if (seat == nullptr) {    // a watched device of the session's own
    timed().IgnoreError();  // a kernel over its limit has ended the session
    return;
  }
  seat->Run(
          [&]() -> absl::Status {
            // Alone on the device: untimed, unless the watchdog must see it.
            if (limit.count() > 0) return timed().status();
            return Grant(turn.turn(), /*timed=*/false);
          },
          timed)
      .IgnoreError();  // the worker has the launch's own outcome
}

}  // namespace accel::pool
