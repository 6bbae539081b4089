// The state behind accelpool's libcuda.so.1: the process's lease and its
// devices, their primary contexts, and the streams, events and memory the
// program made on them. The CUDA driver API is one process-wide C API, so
// this is the library's one process-wide object (Driver::Get()); the entry
// points (entry_points.cc) are thin functions over it. Every handle the
// program passes back (a context, stream or event) is looked up here
// before use: one that this library did not hand out is
// CUDA_ERROR_INVALID_HANDLE or CUDA_ERROR_INVALID_CONTEXT, never a crash.
#ifndef ACCEL_CLIENTS_CUDA_DRIVER_DRIVER_H_
#define ACCEL_CLIENTS_CUDA_DRIVER_DRIVER_H_

#include <cuda.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "accel/hal/hal.h"
#include "clients/cuda_driver/device_memory.h"

namespace accel::cuda_driver {

// What a CUcontext points at: a leased device's primary context (contexts
// the program creates share it: one session per lease serves them all).
struct Context {
  int device = 0;
  unsigned flags = 0;
};

struct StreamObject {
  StreamObject(int device, unsigned flags, hal::Stream stream)
      : device(device), flags(flags), stream(std::move(stream)) {}
  const int device;
  const unsigned flags;
  hal::Stream stream;
  // Work was queued since the stream was last seen idle: cuStreamQuery
  // answers at once for a stream without.
  std::atomic<bool> pending{false};
};

struct EventObject {
  int device = 0;
  unsigned flags = 0;
  hal::Event event;
};

class Driver {
 public:
  static Driver& Get();

  // Leases the devices on the first call, as the remote backend does from
  // ACCEL_POOL and the other ACCEL_POOL_* variables (accel-run sets them);
  // later calls give the first call's answer. No pool, or a pool that
  // grants nothing, is CUDA_ERROR_NO_DEVICE with the reason on stderr.
  CUresult Init();
  // CUDA_SUCCESS after a successful Init, else CUDA_ERROR_NOT_INITIALIZED.
  CUresult Ready();

  int device_count() const { return static_cast<int>(devices_.size()); }
  // nullptr for an ordinal out of range.
  const hal::Device* device(int ordinal) const;
  Context* primary_context(int ordinal);
  bool IsContext(CUcontext context) const;

  DeviceMemory& memory() { return memory_; }

  CUstream AddStream(std::unique_ptr<StreamObject> stream);
  absl::Status RemoveStream(CUstream stream);
  // The program's stream, or for the default stream (0, CU_STREAM_LEGACY,
  // CU_STREAM_PER_THREAD) the default stream of `current_device`.
  StreamObject* FindStream(CUstream stream, int current_device);

  // Waits for every stream of `device` (cuCtxSynchronize).
  absl::Status Synchronize(int device);
  // Whether everything queued on `stream` is done (cuStreamQuery).
  absl::StatusOr<bool> StreamIdle(StreamObject& stream);

  CUevent AddEvent(std::unique_ptr<EventObject> event);
  absl::Status RemoveEvent(CUevent event);
  EventObject* FindEvent(CUevent event);

  // Page-locked host memory from cuMemAllocHost/cuMemHostAlloc: ordinary
  // memory here, since copies cross the network anyway.
  void* AllocateHost(size_t bytes);
  bool FreeHost(void* pointer);
  bool IsHostAllocation(const void* pointer);

 private:
  Driver() = default;

  absl::Mutex init_mu_;
  bool init_done_ ABSL_GUARDED_BY(init_mu_) = false;
  CUresult init_result_ ABSL_GUARDED_BY(init_mu_) = CUDA_ERROR_NOT_INITIALIZED;
  std::unique_ptr<hal::Registry> registry_;
  // Set once by Init, then only read.
  std::vector<hal::Device> devices_;
  std::vector<std::unique_ptr<Context>> contexts_;
  DeviceMemory memory_;

  absl::Mutex mu_;
  std::map<CUstream, std::unique_ptr<StreamObject>> streams_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<StreamObject>> default_streams_ ABSL_GUARDED_BY(mu_);
  std::map<CUevent, std::unique_ptr<EventObject>> events_ ABSL_GUARDED_BY(mu_);
  std::map<void*, size_t> host_ ABSL_GUARDED_BY(mu_);
};

// The device of the calling thread's current context (cuCtxSetCurrent,
// cuCtxPushCurrent), or -1 without one.
int CurrentDevice();

}  // namespace accel::cuda_driver

#endif  // ACCEL_CLIENTS_CUDA_DRIVER_DRIVER_H_
