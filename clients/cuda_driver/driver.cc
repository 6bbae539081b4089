#include "clients/cuda_driver/driver.h"

#include "absl/time/clock.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace accel::cuda_driver {
namespace {

// A handle for the program: the object's address.
template <typename Handle, typename Object>
Handle Put(std::map<Handle, std::unique_ptr<Object>>& handles, std::unique_ptr<Object> object) {
  Handle handle = reinterpret_cast<Handle>(object.get());
  handles[handle] = std::move(object);
  return handle;
}

// The object behind a handle of the program's, taken out; nullptr for a
// handle this library never gave.
template <typename Handle, typename Object>
std::unique_ptr<Object> Take(std::map<Handle, std::unique_ptr<Object>>& handles, Handle handle) {
  auto it = handles.find(handle);
  if (it == handles.end()) return nullptr;
  std::unique_ptr<Object> taken = std::move(it->second);
  handles.erase(it);
  return taken;
}

}  // namespace

Driver& Driver::Get() {
  // Never destroyed: the program may call in from its own static
  // destructors, after ours would have run.
  static Driver* const driver = new Driver();
  return *driver;
}

CUresult Driver::Init() {
  absl::MutexLock lock(&init_mu_);
  if (init_done_) return init_result_;
  init_done_ = true;
  hal::RegistryOptions options;
  options.only = {"remote"};
  absl::StatusOr<std::unique_ptr<hal::Registry>> registry = hal::Registry::Create(options);
  if (!registry.ok()) {
    std::fprintf(stderr, "accelpool libcuda: cannot load the remote backend: %s\n",
                 registry.status().ToString().c_str());
    init_result_ = CUDA_ERROR_NO_DEVICE;
    return init_result_;
  }
  registry_ = *std::move(registry);
  absl::StatusOr<hal::Backend> remote = registry_->GetBackend("remote");
  if (!remote.ok() || remote->devices().empty()) {
    const std::string why =
        !remote.ok() ? remote.status().ToString() : remote->unavailable_reason();
    std::fprintf(stderr, "accelpool libcuda: no device leased: %s\n",
                 why.empty() ? "the pool granted none" : why.c_str());
    init_result_ = CUDA_ERROR_NO_DEVICE;
    return init_result_;
  }
  devices_ = remote->devices();
  for (size_t i = 0; i < devices_.size(); ++i) {
    contexts_.push_back(std::make_unique<Context>(Context{static_cast<int>(i), 0}));
  }
  {
    absl::MutexLock streams(&mu_);
    default_streams_.resize(devices_.size());
  }
  init_result_ = CUDA_SUCCESS;
  return init_result_;
}

CUresult Driver::Ready() {
  absl::MutexLock lock(&init_mu_);
  return init_done_ && init_result_ == CUDA_SUCCESS ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED;
}

const hal::Device* Driver::device(int ordinal) const {
  if (ordinal < 0 || ordinal >= device_count()) return nullptr;
  return &devices_[static_cast<size_t>(ordinal)];
}

Context* Driver::primary_context(int ordinal) {
  if (ordinal < 0 || ordinal >= device_count()) return nullptr;
  return contexts_[static_cast<size_t>(ordinal)].get();
}

bool Driver::IsContext(CUcontext context) const {
  for (const std::unique_ptr<Context>& c : contexts_) {
    if (reinterpret_cast<CUcontext>(c.get()) == context) return true;
  }
  return false;
}

CUstream Driver::AddStream(std::unique_ptr<StreamObject> stream) {
  absl::MutexLock lock(&mu_);
  return Put(streams_, std::move(stream));
}

absl::Status Driver::RemoveStream(CUstream stream) {
  std::unique_ptr<StreamObject> gone;
  {
    absl::MutexLock lock(&mu_);
    gone = Take(streams_, stream);
  }
  // Destroying a stream waits for its work: outside the lock.
  return gone != nullptr ? absl::OkStatus() : absl::NotFoundError("no such stream");
}

StreamObject* Driver::FindStream(CUstream stream, int current_device) {
  absl::MutexLock lock(&mu_);
  if (stream == nullptr || stream == CU_STREAM_LEGACY || stream == CU_STREAM_PER_THREAD) {
    if (current_device < 0 || current_device >= device_count()) return nullptr;
    std::unique_ptr<StreamObject>& slot = default_streams_[static_cast<size_t>(current_device)];
    if (slot == nullptr) {
      absl::StatusOr<hal::Stream> made =
          devices_[static_cast<size_t>(current_device)].CreateStream();
      if (!made.ok()) return nullptr;
      slot = std::make_unique<StreamObject>(current_device, 0, *std::move(made));
    }
    return slot.get();
  }
  auto it = streams_.find(stream);
  return it == streams_.end() ? nullptr : it->second.get();
}

absl::Status Driver::Synchronize(int device) {
  std::vector<StreamObject*> streams;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [handle, stream] : streams_) {
      if (stream->device == device) streams.push_back(stream.get());
    }
    if (device >= 0 && device < device_count() &&
        default_streams_[static_cast<size_t>(device)] != nullptr) {
      streams.push_back(default_streams_[static_cast<size_t>(device)].get());
    }
  }
  // The program must not destroy a stream while it synchronizes its
  // context, as under CUDA.
  for (StreamObject* stream : streams) {
    if (absl::Status s = stream->stream.Synchronize(); !s.ok()) return s;
    stream->pending = false;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> Driver::StreamIdle(StreamObject& stream) {
  if (!stream.pending) return true;
  // A marker after the queued work: done when it is. The node answers a
  // query before an idle stream has run the marker, so a short while is
  // given for that (a stream still busy after it is not idle).
  absl::StatusOr<hal::Event> marker = devices_[static_cast<size_t>(stream.device)].CreateEvent();
  if (!marker.ok()) return marker.status();
  if (absl::Status s = stream.stream.Record(*marker); !s.ok()) return s;
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<bool> done = marker->IsComplete();
    if (!done.ok() || *done) {
      if (done.ok()) stream.pending = false;
      return done;
    }
    absl::SleepFor(absl::Microseconds(100));
  }
  return false;
}

CUevent Driver::AddEvent(std::unique_ptr<EventObject> event) {
  absl::MutexLock lock(&mu_);
  return Put(events_, std::move(event));
}

absl::Status Driver::RemoveEvent(CUevent event) {
  std::unique_ptr<EventObject> gone;
  {
    absl::MutexLock lock(&mu_);
    gone = Take(events_, event);
  }
  return gone != nullptr ? absl::OkStatus() : absl::NotFoundError("no such event");
}

EventObject* Driver::FindEvent(CUevent event) {
  absl::MutexLock lock(&mu_);
  auto it = events_.find(event);
  return it == events_.end() ? nullptr : it->second.get();
}

void* Driver::AllocateHost(size_t bytes) {
  void* pointer = std::aligned_alloc(4096, (std::max<size_t>(bytes, 1) + 4095) / 4096 * 4096);
  if (pointer != nullptr) {
    absl::MutexLock lock(&mu_);
    host_[pointer] = bytes;
  }
  return pointer;
}

bool Driver::FreeHost(void* pointer) {
  {
    absl::MutexLock lock(&mu_);
    if (host_.erase(pointer) == 0) return false;
  }
  std::free(pointer);
  return true;
}

bool Driver::IsHostAllocation(const void* pointer) {
  absl::MutexLock lock(&mu_);
  auto it = host_.upper_bound(const_cast<void*>(pointer));
  if (it == host_.begin()) return false;
  --it;
  const auto* base = static_cast<const char*>(it->first);
  return static_cast<const char*>(pointer) < base + std::max<size_t>(it->second, 1);
}

}  // namespace accel::cuda_driver
