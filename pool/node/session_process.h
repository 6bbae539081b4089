// The node's side of one session: the worker process that runs it
// (pool/worker/worker_main.cc), and the threads that relay between it, the
// client and the rest of the node.
//
// The node keeps what must see every session (admission, accounting, the
// compute shares of a shared device and the kernel watchdog); the worker
// holds everything the client's commands touch. A worker that dies, however
// it dies, ends only its own session, with the cause in the status the
// client is given. Ending a session kills its worker at once, so a lease's
// end never waits on the work its client left queued, and the device's
// memory is back when the worker has been reaped.
#ifndef ACCEL_POOL_NODE_SESSION_PROCESS_H_
#define ACCEL_POOL_NODE_SESSION_PROCESS_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/serial_executor.h"
#include "pool/common/bulk_socket.h"
#include "pool/common/frame_socket.h"
#include "pool/common/session_link.h"
#include "pool/common/wire.h"
#include "pool/common/worker_wire.h"
#include "pool/node/compute_shares.h"
#include "pool/node/worker_log.h"

namespace accel::pool {

// accel-session-worker beside the running program (poold, or a test).
std::string DefaultWorkerPath();

class SessionProcess {
 public:
  // Told the lease's memory in use and traffic, as the worker reports them.
  using UsageReporter = std::function<void(const v1::LeaseUsage& usage)>;

  struct Config {
    std::string worker_path;  // the accel-session-worker program
    // The lease, its devices (`shared` set where launches take turns) and
    // the node's settings, for the worker.
    worker::v1::WorkerInit init;
    // Per lease device: the device's compute shares where it is shared (and
    // the lease's weight there), else null.
    std::vector<std::shared_ptr<ComputeShares>> shares;
    std::vector<uint32_t> weights;
    // Per lease device: the longest a launch may run (zero: unlimited).
    std::vector<std::chrono::milliseconds> kernel_limits;
    // Attaches the bulk channel; empty when the node offers none.
    std::string bulk_key;
    // How long the worker may take to open its devices.
    std::chrono::milliseconds start_timeout{30000};
  };

  // Starts the worker and waits until it serves the lease.
  static absl::StatusOr<std::shared_ptr<SessionProcess>> Start(Config config,
                                                               std::shared_ptr<SessionLink> link,
                                                               UsageReporter usage);
  // Kills the worker (if it still runs) and reaps it: everything the
  // session held on the devices is free when this returns.
  ~SessionProcess();
  SessionProcess(const SessionProcess&) = delete;
  SessionProcess& operator=(const SessionProcess&) = delete;

  // Hands the client's commands to the worker, in order. Called from the
  // session's reader only; waits while the worker is behind.
  void Execute(v1::SessionRequest& request);
  // The client connected the session's bulk channel: it goes to the worker.
  void AttachBulk(std::unique_ptr<BulkSocket> socket);
  // Tells the client the session is over, and why, cuts the connection and
  // kills the worker. Never blocks: the lease reaper calls it.
  void End(const absl::Status& why);
  // The client is gone: cuts its connection and kills the worker.
  void Abort();
  // The session itself failed (its worker died, a kernel ran too long):
  // tells the client why, cuts the connection and kills the worker.
  void Fail(const absl::Status& why);

  const std::string& lease_id() const { return config_.init.lease().lease_id(); }
  const v1::LeaseInfo& lease() const { return config_.init.lease(); }
  const std::string& bulk_key() const { return config_.bulk_key; }
  pid_t pid() const { return pid_; }

 private:
  SessionProcess(Config config, std::shared_ptr<SessionLink> link, UsageReporter usage, pid_t pid,
                 int session_fd, int control_fd);
  void RelayResponses();
  void ReadReports();
  // Serves one launch's turn, on its device's turn thread.
  void ServeTurn(const worker::v1::TurnRequest& turn);
  absl::Status Grant(uint64_t turn, bool timed);
  // Grants a timed turn and waits for its end, or for `limit`.
  absl::StatusOr<double> TimedTurn(const worker::v1::TurnRequest& turn,
                                   std::chrono::milliseconds limit);
  // The worker's links are closed: why it ended (OK if it ended itself
  // cleanly, or was ended by the node).
  absl::Status WorkerExit();
  void Kill();
  // Tells the coordinator the session's memory in use (the worker's latest
  // figure, or `memory_in_use` when given) and the traffic counted here.
  void Report(std::optional<uint64_t> memory_in_use);

  const Config config_;
  const std::shared_ptr<SessionLink> link_;
  const UsageReporter usage_;
  const pid_t pid_;
  FrameSocket session_;
  FrameSocket control_;
  std::vector<std::unique_ptr<ComputeShares::Seat>> seats_;  // per device
  // Turns are served in order per device, each device on a thread of its
  // own: a turn blocks for as long as its kernel runs.
  std::unique_ptr<ExecutorThreads> turn_threads_;
  std::vector<std::unique_ptr<SerialExecutor>> turn_queues_;  // per device that takes turns

  absl::Mutex mu_;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;   // by the node: no cause to report
  bool reaped_ ABSL_GUARDED_BY(mu_) = false;  // the pid may be reused from then on
  bool control_closed_ ABSL_GUARDED_BY(mu_) = false;
  std::map<uint64_t, worker::v1::TurnDone> done_ ABSL_GUARDED_BY(mu_);
  // What the client's commands asked for, counted here as they pass: a
  // worker's word is not needed for it, and a killed worker's last moments
  // are not lost.
  std::atomic<uint64_t> launches_{0};
  std::atomic<uint64_t> bytes_to_device_{0};
  std::atomic<uint64_t> bytes_to_host_{0};
  // When the traffic was last reported (the session's reader only).
  std::chrono::steady_clock::time_point traffic_reported_;
  absl::Mutex report_mu_;
  uint64_t memory_in_use_ ABSL_GUARDED_BY(report_mu_) = 0;

  std::thread relay_;
  std::thread reports_;
  // Destroyed after the worker is reaped, so its last lines are relayed.
  std::unique_ptr<WorkerLog> log_;
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_NODE_SESSION_PROCESS_H_
