// One lease's session, inside its worker process (pool/worker/): the handle
// table and the execution of the client's ordered command stream against the
// worker's own HAL devices.
//
// Isolation: the worker process holds this one session, so its device
// contexts and address space are its own; handles live in this session's
// table only, so a client can never name another session's objects; memory
// is counted against the lease's per-device quota exactly, whatever the
// client does.
#ifndef ACCEL_POOL_WORKER_SESSION_H_
#define ACCEL_POOL_WORKER_SESSION_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "accel/hal/hal.h"
#include "common/serial_executor.h"
#include "pool/common/bulk_socket.h"
#include "pool/common/session_link.h"
#include "pool/common/wire.h"
#include "pool/worker/event_track.h"
#include "pool/worker/launch_turns.h"
#include "pool/worker/module_cache.h"
#include "pool/worker/stream_worker.h"

namespace accel::pool {

// A launch's or a kernel query's dimensions off the wire (session_streams.cc).
hal::Dim3 ToDim3(const v1::Dim3& d);

class Session {
 public:
  // Told the lease's memory in use whenever it changes.
  using UsageReporter = std::function<void(const v1::LeaseUsage& usage)>;

  struct Config {
    v1::LeaseInfo lease;
    // The lease's devices, in lease order; a device on another node (a
    // gang across nodes) is an invalid Device here.
    std::vector<hal::Device> devices;
    std::vector<uint64_t> quotas;  // bytes allocatable on each
    // Per device: where its launches ask for their turn (a shared device, or
    // a watched one); null where they need none. They outlive the session.
    std::vector<LaunchTurns*> turns;
    bool allow_host_kernels = false;
    size_t max_handles = 1 << 20;
    size_t max_streams = 256;
    // The threads all of the session's streams share. A stream holds one
    // while it runs an operation, and while it waits for the device (a
    // synchronize, a timed launch): more would let more streams wait on the
    // device at once, fewer would delay other streams' submissions.
    size_t stream_threads = 8;
    size_t max_events = 65536;
    size_t max_modules = 1024;
  };

  Session(Config config, ModuleCache& cache, std::shared_ptr<SessionLink> link,
          UsageReporter usage);
  // Frees everything the session holds: handles, streams (after their queued
  // work), memory.
  ~Session();

  // Executes one command, in order. Called from the session's reader only.
  void Execute(v1::Command& command);
  // The client connected the session's bulk channel: answers it and uses it
  // for bulk copies from now on. Once only.
  void AttachBulk(std::unique_ptr<BulkSocket> socket);
  // The session cannot go on (the client broke the protocol): cuts both
  // connections, so that no operation waits on them any more.
  void Abort();

  const std::string& lease_id() const { return config_.lease.lease_id(); }
  uint64_t memory_in_use() const;

 private:
  struct BufferEntry {
    hal::Buffer buffer;
    uint32_t device = 0;
    uint64_t charged = 0;  // of the lease's memory: its size, or 0 for a module's global
  };
  struct EventEntry {
    hal::Event event;
    std::shared_ptr<EventTrack> track;
  };
  // A module's image counts against the lease's memory on its device.
  struct ModuleEntry {
    hal::Module module;
    uint32_t device = 0;
    uint64_t charged = 0;
  };
  using Entry = std::variant<BufferEntry, std::shared_ptr<StreamWorker>, EventEntry, ModuleEntry,
                             hal::Kernel>;

  // Handle creation.
  absl::Status Allocate(const v1::AllocateBuffer& op);
  absl::Status CreateStream(const v1::CreateStream& op);
  absl::Status CreateEvent(const v1::CreateEvent& op);
  absl::Status LoadModule(v1::LoadModule& op);
  absl::StatusOr<hal::Kernel> GetKernel(const v1::GetKernel& op);
  absl::StatusOr<hal::Buffer> GetGlobal(const v1::GetGlobal& op);
  absl::Status Destroy(const v1::Destroy& op);
  absl::Status AddHandle(uint64_t handle, Entry entry);
  // Takes `bytes` of the lease's memory on `device`, or says why not.
  absl::Status Reserve(uint32_t device, uint64_t bytes, const char* what);
  // Returns a destroyed buffer's bytes to the quota once the work queued
  // before its destruction, on every stream, has finished with it.
  void ReturnWhenUnused(uint32_t device, uint64_t bytes);
  // Waits (boundedly) for the bytes still returning on `device`.
  void AwaitReturns(uint32_t device);

  // Stream commands are queued on the stream's worker, in order.
  void ExecuteStreamCommand(v1::Command& command);
  // A copy to the host of `view`, answering `reply_id` (session_copies.cc).
  StreamWorker::Operation CopyToHostOperation(uint64_t reply_id,
                                              std::shared_ptr<BulkSocket> channel,
                                              hal::BufferView view);
  // What a stream command becomes: an operation, and for a wait, the event
  // record it must not overtake.
  struct StreamOperation {
    StreamOperation(StreamWorker::Operation op) : run(std::move(op)) {}  // NOLINT: implicit
    StreamWorker::Operation run;
    std::shared_ptr<EventTrack> after;
    uint64_t after_generation = 0;
  };
  // `upload` holds a bulk upload's bytes, already read from the channel.
  absl::StatusOr<StreamOperation> MakeStreamOperation(v1::Command& command,
                                                      std::shared_ptr<const char[]> upload);
  // Receives a bulk upload straight into its destination, when the worker
  // can address it and its stream is idle; false (nothing read) otherwise.
  bool UploadInPlace(const v1::Command& command);
  // Reads the bytes of a bulk upload, which must be consumed whether or not
  // the command is valid, to keep the channel in step with the commands.
  absl::StatusOr<std::shared_ptr<const char[]>> ReadBulkUpload(uint64_t size);
  std::shared_ptr<BulkSocket> bulk();

  // Handle lookup, with the reason a handle is unusable.
  template <typename T>
  absl::StatusOr<T> Lookup(uint64_t handle, const char* kind);
  absl::StatusOr<hal::BufferView> Resolve(const v1::BufferRange& range);
  absl::StatusOr<hal::Device> DeviceAt(uint32_t index);

  void Reply(uint64_t reply_id, const absl::Status& status,
             const std::function<void(v1::Reply&)>& fill = nullptr);
  void HandleFailed(uint64_t handle, const absl::Status& status);
  // Tells the node the memory in use; called whenever it changes.
  void ReportMemory();

  const Config config_;
  ModuleCache& cache_;
  std::shared_ptr<SessionLink> link_;
  UsageReporter usage_;
  std::unique_ptr<std::atomic<uint64_t>[]> used_;  // per device
  // Bytes of destroyed buffers still in use by queued work, per device:
  // they return to the quota once every stream has passed that work.
  absl::Mutex returns_mu_;
  std::map<uint32_t, uint64_t> returning_ ABSL_GUARDED_BY(returns_mu_);

  // Declared before everything that runs on them.
  std::unique_ptr<ExecutorThreads> threads_;
  // Reader-thread state. (std::unordered_map: GCC 12 warns falsely inside
  // flat_hash_map's slot transfer for this variant.)
  std::unordered_map<uint64_t, Entry> handles_;
  absl::flat_hash_map<uint64_t, absl::Status> failed_;
  size_t streams_ = 0;
  size_t events_ = 0;
  size_t modules_ = 0;
  absl::Mutex bulk_mu_;
  std::shared_ptr<BulkSocket> bulk_ ABSL_GUARDED_BY(bulk_mu_);
  // Waits for events and for streams' queues, off the reader, so later
  // commands keep flowing. Declared last: destroyed first.
  std::unique_ptr<SerialExecutor> waits_;
};

// Used by every part of the session (session*.cc).
template <typename T>
absl::StatusOr<T> Session::Lookup(uint64_t handle, const char* kind) {
  auto it = handles_.find(handle);
  if (it == handles_.end()) {
    if (auto f = failed_.find(handle); f != failed_.end()) {
      return absl::Status(
          f->second.code(),
          absl::StrCat(kind, " ", handle, " was never created: ", f->second.message()));
    }
    return absl::InvalidArgumentError(absl::StrCat("unknown ", kind, " handle ", handle));
  }
  if (const T* value = std::get_if<T>(&it->second)) return *value;
  return absl::InvalidArgumentError(absl::StrCat("handle ", handle, " is not a ", kind));
}

}  // namespace accel::pool

#endif  // ACCEL_POOL_WORKER_SESSION_H_
