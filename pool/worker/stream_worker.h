// The worker side of one remote stream: a serial executor that applies the
// stream's commands to a HAL stream in order. The session's reader only
// queues work here, so a slow stream never stalls the session or other
// streams. All of a session's streams share a few threads (the session's
// ExecutorThreads): a wait for another stream's event record holds none.
//
// Errors are sticky, as on a HAL stream: the first failure (a bad command or
// a failed device operation) is kept, later operations are skipped, and every
// reply after it carries it.
#ifndef ACCEL_POOL_WORKER_STREAM_WORKER_H_
#define ACCEL_POOL_WORKER_STREAM_WORKER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "accel/hal/event.h"
#include "accel/hal/stream.h"
#include "common/serial_executor.h"
#include "pool/worker/event_track.h"
#include "pool/worker/launch_turns.h"

namespace accel::pool {

class StreamWorker {
 public:
  // An operation gets the worker and the sticky status so far; it returns
  // its own outcome. Replying operations reply even when the stream failed.
  using Operation = std::function<absl::Status(StreamWorker&, const absl::Status& sticky)>;

  // `turns`: where launches on the stream's device ask for their turn
  // (null: they need none). It and `threads` must outlive the worker.
  StreamWorker(hal::Stream stream, LaunchTurns* turns, ExecutorThreads& threads);
  ~StreamWorker();  // drains the queue, then synchronizes the HAL stream
  StreamWorker(const StreamWorker&) = delete;
  StreamWorker& operator=(const StreamWorker&) = delete;

  // `bytes` is the host memory the operation holds (its data, and a nominal
  // cost per operation): the caller waits while too much is queued, which
  // pushes back on the client through gRPC flow control.
  void Enqueue(Operation op, uint64_t bytes = 0);
  // Like Enqueue, but `op` runs only once `track` has applied record
  // `generation` (queued on another stream), which the stream waits for
  // without holding a thread.
  void EnqueueAfterRecord(std::shared_ptr<EventTrack> track, uint64_t generation, Operation op,
                          uint64_t bytes = 0);
  // Runs `op` on the calling thread instead, and returns true, when nothing
  // is queued or running and the HAL stream has had no work since it was
  // last synchronized, so that `op` cannot block on the device. A
  // synchronize of an idle stream is the common round trip; this saves it a
  // thread hand-off. `uses_device`: false for an operation that queues no
  // device work, after which the stream is still idle.
  bool RunIfIdle(const Operation& op, bool uses_device = true);
  // For an owner that lets the worker go once its queue is empty.
  bool Idle() const { return executor_.Idle(); }
  void NotifyWhenIdle(SerialExecutor::Waker wake) { executor_.NotifyWhenIdle(std::move(wake)); }

  // For operations, on the worker's executor:
  hal::Stream& stream() { return stream_; }
  LaunchTurns* turns() { return turns_; }
  // Keeps host bytes alive until the HAL stream has consumed them.
  void Retain(std::shared_ptr<const void> bytes, uint64_t size);
  // Waits for the HAL stream; the retained bytes are then free to go.
  absl::Status Synchronize();
  // Runs `launch` between two events and waits for it: the device time it
  // took, in microseconds.
  absl::StatusOr<double> RunTimed(const std::function<absl::Status()>& launch);

 private:
  // Runs `op` with the sticky status, on the executor or inline.
  void Run(const Operation& op, bool uses_device = true);
  // Waits while too many bytes are queued, then counts `bytes` in.
  void Admit(uint64_t bytes);
  void Release(uint64_t bytes);

  hal::Stream stream_;
  LaunchTurns* const turns_;
  absl::Mutex mu_;
  uint64_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool device_idle_ ABSL_GUARDED_BY(mu_) = true;
  // State of whichever runs an operation (the executor makes it one).
  absl::Status sticky_;
  std::vector<std::shared_ptr<const void>> retained_;
  hal::Event timing_start_, timing_end_;  // made on first use
  uint64_t retained_bytes_ = 0;
  SerialExecutor executor_;  // declared last: drained first
};

}  // namespace accel::pool

#endif  // ACCEL_POOL_WORKER_STREAM_WORKER_H_
