// The remote backend's objects: HAL backend interfaces whose every call
// becomes a command on the lease's session. Handles are numbered here, so
// creating an object costs no round trip.
#ifndef ACCEL_CLIENTS_REMOTE_REMOTE_OBJECTS_H_
#define ACCEL_CLIENTS_REMOTE_REMOTE_OBJECTS_H_

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "accel/hal/plugin/backend_interface.h"
#include "clients/remote/connection.h"

namespace accel::client {

namespace plugin = ::accel::hal::plugin;

class RemoteDevice;

// Base of every remote object: its connection and its handle.
class RemoteHandle {
 public:
  RemoteHandle(std::shared_ptr<Connection> connection, uint64_t handle)
      : connection_(std::move(connection)), handle_(handle) {}
  uint64_t handle() const { return handle_; }
  Connection& connection() const { return *connection_; }

 protected:
  // Tells the node to drop the handle.
  void SendDestroy();
  std::shared_ptr<Connection> connection_;
  const uint64_t handle_;
};

class RemoteBuffer : public plugin::BufferImpl, public RemoteHandle {
 public:
  // `size` bytes counted in `*used`, the device's local quota accounting,
  // while it lives; none for a module's global (used == nullptr).
  RemoteBuffer(std::shared_ptr<Connection> connection, uint64_t handle, uint64_t size,
               std::atomic<uint64_t>* used)
      : RemoteHandle(std::move(connection), handle), size_(size), used_(used) {}
  ~RemoteBuffer() override;
  // The node's device's address of it: asked once (a round trip behind the
  // commands already sent, its allocation among them), then remembered.
  absl::StatusOr<uint64_t> DeviceAddress() override;

 private:
  const uint64_t size_;
  std::atomic<uint64_t>* const used_;
  std::atomic<uint64_t> address_{0};  // 0: not asked yet
};

class RemoteEvent : public plugin::EventImpl, public RemoteHandle {
 public:
  using RemoteHandle::RemoteHandle;
  ~RemoteEvent() override { SendDestroy(); }
  absl::Status Synchronize() override;
  absl::StatusOr<bool> IsComplete() override;
  absl::StatusOr<float> ElapsedMillisecondsSince(plugin::EventImpl& start) override;
};

class RemoteKernel : public plugin::KernelImpl, public RemoteHandle {
 public:
  RemoteKernel(std::shared_ptr<Connection> connection, uint64_t handle, std::string signature)
      : RemoteHandle(std::move(connection), handle), signature_(std::move(signature)) {}
  ~RemoteKernel() override { SendDestroy(); }
  const std::string& signature() const override { return signature_; }
  // Asked of the node once (a round trip), then known.
  absl::StatusOr<std::vector<AccelKernelParameter>> Parameters() const override;
  // A round trip each: answers depend on the question.
  absl::StatusOr<int64_t> Query(const AccelKernelQuery& query) override;

 private:
  std::string signature_;
  mutable absl::Mutex mu_;
  mutable std::optional<std::vector<AccelKernelParameter>> params_ ABSL_GUARDED_BY(mu_);
};

class RemoteModule : public plugin::ModuleImpl, public RemoteHandle {
 public:
  using RemoteHandle::RemoteHandle;
  ~RemoteModule() override;
  absl::StatusOr<plugin::KernelImpl*> GetKernel(absl::string_view name) override;
  // A new buffer handle on the node over the module's global.
  absl::StatusOr<plugin::ModuleGlobal> GetGlobal(absl::string_view name) override;

 private:
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<RemoteKernel>, std::less<>> kernels_ ABSL_GUARDED_BY(mu_);
};

class RemoteStream : public plugin::StreamImpl, public RemoteHandle {
 public:
  using RemoteHandle::RemoteHandle;
  ~RemoteStream() override;

  absl::Status CopyHostToDevice(const void* src, plugin::BufferImpl& dst, uint64_t dst_offset,
                                uint64_t size) override;
  absl::Status CopyDeviceToHost(plugin::BufferImpl& src, uint64_t src_offset, void* dst,
                                uint64_t size) override;
  absl::Status CopyDeviceToDevice(plugin::BufferImpl& src, uint64_t src_offset,
                                  plugin::BufferImpl& dst, uint64_t dst_offset,
                                  uint64_t size) override;
  absl::Status Fill(plugin::BufferImpl& dst, uint64_t offset, uint64_t size, uint32_t pattern,
                    uint32_t pattern_size) override;
  absl::Status Launch(plugin::KernelImpl& kernel, const AccelLaunchConfig& config,
                      absl::Span<const plugin::LaunchArg> args) override;
  absl::Status RecordEvent(plugin::EventImpl& event) override;
  absl::Status WaitEvent(plugin::EventImpl& event) override;
  absl::Status Synchronize() override;

 private:
  // A failure of the stream found since the last call (a copy to the host
  // that failed after its call returned), the connection's end, or a failed
  // handle this command names: any makes the command fail now.
  // `command` as a command on this stream, for its operation to be set.
  v1::StreamCommand* OnThisStream(v1::Command& command) const;
  absl::Status Check(std::initializer_list<const plugin::BufferImpl*> buffers);
  absl::Status Submit(v1::Command command);

  // Failures found by completions of copies to the host, which may run after
  // the stream is gone (a lost session completes them late); reported once,
  // as a stream failure, by the next call. The HAL keeps it sticky.
  struct Unreported {
    absl::Mutex mu;
    absl::Status status ABSL_GUARDED_BY(mu);
    void Set(const absl::Status& s) {
      absl::MutexLock lock(&mu);
      if (status.ok()) status = s;
    }
    absl::Status Take() {
      absl::MutexLock lock(&mu);
      return plugin::StreamFailure(std::exchange(status, absl::OkStatus()));
    }
  };
  std::shared_ptr<Unreported> unreported_ = std::make_shared<Unreported>();
};

class RemoteDevice : public plugin::DeviceImpl {
 public:
  RemoteDevice(std::shared_ptr<Connection> connection, uint32_t index,
               const v1::LeasedDevice& leased);

  AccelDeviceProperties Properties() override { return properties_; }
  absl::Span<const AccelNativeAttribute> NativeAttributes() override { return native_attributes_; }
  absl::StatusOr<std::pair<uint64_t, uint64_t>> MemoryInfo() override;
  int32_t ImageScore(AccelImageFormat format, absl::string_view arch) override;
  absl::StatusOr<std::unique_ptr<plugin::BufferImpl>> Allocate(uint64_t size) override;
  absl::StatusOr<std::unique_ptr<plugin::StreamImpl>> CreateStream() override;
  absl::StatusOr<std::unique_ptr<plugin::EventImpl>> CreateEvent() override;
  absl::StatusOr<std::unique_ptr<plugin::ModuleImpl>> LoadModule(AccelImageFormat format,
                                                                 absl::string_view image) override;

 private:
  std::shared_ptr<Connection> connection_;
  const uint32_t index_;  // in the lease
  const uint64_t quota_;
  std::atomic<uint64_t> used_{0};
  AccelDeviceProperties properties_;
  std::vector<AccelNativeAttribute> native_attributes_;  // the node's device's
  absl::Mutex scores_mu_;
  std::map<std::pair<int32_t, std::string>, int32_t> scores_ ABSL_GUARDED_BY(scores_mu_);
};

}  // namespace accel::client

#endif  // ACCEL_CLIENTS_REMOTE_REMOTE_OBJECTS_H_
