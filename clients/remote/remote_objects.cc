#include "clients/remote/remote_objects.h"

#include "absl/strings/str_cat.h"
#include "accel/hal/types.h"
#include "pool/common/sha256.h"
#include "pool/common/version.h"

namespace accel::client {
namespace {

const RemoteBuffer& AsRemote(const plugin::BufferImpl& b) {
  return static_cast<const RemoteBuffer&>(b);
}

v1::BufferRange Range(const plugin::BufferImpl& b, uint64_t offset, uint64_t size) {
  v1::BufferRange range;
  range.set_buffer(AsRemote(b).handle());
  range.set_offset(offset);
  range.set_size(size);
  return range;
}

void SetDim(v1::Dim3* out, const uint32_t in[3]) {
  out->set_x(in[0]);
  out->set_y(in[1]);
  out->set_z(in[2]);
}

}  // namespace

void RemoteHandle::SendDestroy() {
  v1::Command command;
  command.mutable_destroy()->set_handle(handle_);
  // A lost session already freed everything on the node.
  connection_->Send(std::move(command)).IgnoreError();
}

RemoteBuffer::~RemoteBuffer() {
  SendDestroy();
  if (used_ != nullptr) *used_ -= size_;
}

absl::StatusOr<uint64_t> RemoteBuffer::DeviceAddress() {
  if (const uint64_t known = address_.load(); known != 0) return known;
  v1::Command command;
  command.mutable_buffer_address()->set_buffer(handle_);
  absl::StatusOr<v1::Reply> reply = connection_->Call(std::move(command));
  if (!reply.ok()) return reply.status();
  address_ = reply->device_address();
  return reply->device_address();
}

// ---------------------------------------------------------------- kernels --

absl::StatusOr<std::vector<AccelKernelParameter>> RemoteKernel::Parameters() const {
  absl::MutexLock lock(&mu_);
  if (params_.has_value()) return *params_;
  v1::Command command;
  command.mutable_kernel_parameters()->set_kernel(handle_);
  absl::StatusOr<v1::Reply> reply = connection_->Call(std::move(command));
  if (!reply.ok()) return reply.status();
  std::vector<AccelKernelParameter> params;
  for (const v1::KernelParameter& p : reply->kernel_parameters()) {
    params.push_back({p.offset(), p.size()});
  }
  params_ = params;
  return params;
}

absl::StatusOr<int64_t> RemoteKernel::Query(const AccelKernelQuery& query) {
  v1::Command command;
  v1::KernelQuery& q = *command.mutable_kernel_query();
  q.set_kernel(handle_);
  q.set_kind(query.kind);
  q.set_attribute(query.attribute);
  q.set_flags(query.flags);
  q.set_blocks(query.blocks);
  SetDim(q.mutable_grid(), query.grid);
  SetDim(q.mutable_block(), query.block);
  SetDim(q.mutable_cluster(), query.cluster);
  q.set_dynamic_shared_bytes(query.dynamic_shared_bytes);
  absl::StatusOr<v1::Reply> reply = connection_->Call(std::move(command));
  if (!reply.ok()) return reply.status();
  return reply->kernel_answer();
}

// ----------------------------------------------------------------- events --

absl::Status RemoteEvent::Synchronize() {
  v1::Command command;
  command.mutable_synchronize_event()->set_event(handle_);
  return connection_->Call(std::move(command)).status();
}

absl::StatusOr<bool> RemoteEvent::IsComplete() {
  v1::Command command;
  command.mutable_query_event()->set_event(handle_);
  absl::StatusOr<v1::Reply> reply = connection_->Call(std::move(command));
  if (!reply.ok()) return reply.status();
  return reply->event_complete();
}

absl::StatusOr<float> RemoteEvent::ElapsedMillisecondsSince(plugin::EventImpl& start) {
  v1::Command command;
  command.mutable_elapsed_time()->set_start(static_cast<RemoteEvent&>(start).handle());
  command.mutable_elapsed_time()->set_end(handle_);
  absl::StatusOr<v1::Reply> reply = connection_->Call(std::move(command));
  if (!reply.ok()) return reply.status();
  return reply->elapsed_ms();
}

// ---------------------------------------------------------------- modules --

RemoteModule::~RemoteModule() {
  {
    absl::MutexLock lock(&mu_);
    kernels_.clear();
  }
  SendDestroy();
}

absl::StatusOr<plugin::KernelImpl*> RemoteModule::GetKernel(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  if (auto it = kernels_.find(name); it != kernels_.end()) return it->second.get();
  v1::Command command;
  const uint64_t handle = connection_->NewHandle();
  command.mutable_get_kernel()->set_handle(handle);
  command.mutable_get_kernel()->set_module(handle_);
  command.mutable_get_kernel()->set_name(std::string(name));
  absl::StatusOr<v1::Reply> reply = connection_->Call(std::move(command));
  if (!reply.ok()) return reply.status();
  auto kernel = std::make_unique<RemoteKernel>(connection_, handle,
                                               reply->has_signature() ? reply->signature() : "");
  RemoteKernel* raw = kernel.get();
  kernels_.emplace(std::string(name), std::move(kernel));
  return raw;
}

absl::StatusOr<plugin::ModuleGlobal> RemoteModule::GetGlobal(absl::string_view name) {
  v1::Command command;
  const uint64_t handle = connection_->NewHandle();
  command.mutable_get_global()->set_handle(handle);
  command.mutable_get_global()->set_module(handle_);
  command.mutable_get_global()->set_name(std::string(name));
  absl::StatusOr<v1::Reply> reply = connection_->Call(std::move(command));
  if (!reply.ok()) return reply.status();
  return plugin::ModuleGlobal{
      std::make_unique<RemoteBuffer>(connection_, handle, reply->global_size(), nullptr),
      reply->global_size()};
}

// ---------------------------------------------------------------- streams --

v1::StreamCommand* RemoteStream::OnThisStream(v1::Command& command) const {
  v1::StreamCommand* on = command.mutable_stream();
  on->set_stream(handle_);
  return on;
}

RemoteStream::~RemoteStream() {
  // The HAL promises a destroyed stream's work still runs; waiting here also
  // keeps the node from holding the stream's queue past its owner.
  v1::Command sync;
  OnThisStream(sync)->mutable_synchronize_stream();
  connection_->Call(std::move(sync)).IgnoreError();  // errors were the owner's to collect
  SendDestroy();
}

absl::Status RemoteStream::Check(std::initializer_list<const plugin::BufferImpl*> buffers) {
  if (absl::Status found = unreported_->Take(); !found.ok()) return found;
  if (absl::Status alive = connection_->Alive(); !alive.ok()) return alive;
  for (const plugin::BufferImpl* b : buffers) {
    if (absl::Status s = connection_->HandleStatus(AsRemote(*b).handle()); !s.ok()) return s;
  }
  return connection_->HandleStatus(handle_);
}

absl::Status RemoteStream::Submit(v1::Command command) {
  return connection_->Send(std::move(command));
}

absl::Status RemoteStream::CopyHostToDevice(const void* src, plugin::BufferImpl& dst,
                                            uint64_t dst_offset, uint64_t size) {
  if (absl::Status s = Check({&dst}); !s.ok()) return s;
  const char* bytes = static_cast<const char*>(src);
  // On the bulk channel the bytes go straight from the caller's memory, in
  // pieces the node buffers one at a time; in band they are copied into
  // messages under the message limit. Either way the caller's memory is
  // free on return.
  const bool bulk = connection_->has_bulk();
  const uint64_t chunk = bulk ? pool::kMaxBulkCommandBytes : pool::kCopyChunkBytes;
  for (uint64_t done = 0; done < size; done += chunk) {
    const uint64_t n = std::min<uint64_t>(chunk, size - done);
    v1::Command command;
    v1::CopyToDevice* op = OnThisStream(command)->mutable_copy_to_device();
    *op->mutable_dst() = Range(dst, dst_offset + done, n);
    absl::Status sent;
    if (bulk) {
      op->set_bulk_size(n);
      sent = connection_->SendBulkUpload(std::move(command), bytes + done, n);
    } else {
      op->set_data(bytes + done, n);
      sent = Submit(std::move(command));
    }
    if (!sent.ok()) return sent;
  }
  return absl::OkStatus();
}

absl::Status RemoteStream::CopyDeviceToHost(plugin::BufferImpl& src, uint64_t src_offset, void* dst,
                                            uint64_t size) {
  if (absl::Status s = Check({&src}); !s.ok()) return s;
  v1::Command command;
  v1::CopyToHost* op = OnThisStream(command)->mutable_copy_to_host();
  op->set_bulk(connection_->has_bulk());
  *op->mutable_src() = Range(src, src_offset, size);
  return connection_->SendCopyToHost(std::move(command), dst, size,
                                     [unreported = unreported_](const absl::Status& s) {
                                       if (!s.ok()) unreported->Set(s);
                                     });
}

absl::Status RemoteStream::CopyDeviceToDevice(plugin::BufferImpl& src, uint64_t src_offset,
                                              plugin::BufferImpl& dst, uint64_t dst_offset,
                                              uint64_t size) {
  if (absl::Status s = Check({&src, &dst}); !s.ok()) return s;
  v1::Command command;
  v1::CopyDeviceToDevice* op = OnThisStream(command)->mutable_copy_device_to_device();
  *op->mutable_src() = Range(src, src_offset, size);
  *op->mutable_dst() = Range(dst, dst_offset, size);
  return Submit(std::move(command));
}

absl::Status RemoteStream::Fill(plugin::BufferImpl& dst, uint64_t offset, uint64_t size,
                                uint32_t pattern, uint32_t pattern_size) {
  if (absl::Status s = Check({&dst}); !s.ok()) return s;
  v1::Command command;
  v1::Fill* op = OnThisStream(command)->mutable_fill();
  *op->mutable_dst() = Range(dst, offset, size);
  op->set_pattern(pattern);
  op->set_pattern_size(pattern_size);
  return Submit(std::move(command));
}

absl::Status RemoteStream::Launch(plugin::KernelImpl& kernel, const AccelLaunchConfig& config,
                                  absl::Span<const plugin::LaunchArg> args) {
  if (absl::Status s = Check({}); !s.ok()) return s;
  v1::Command command;
  v1::Launch* op = OnThisStream(command)->mutable_launch();
  op->set_kernel(static_cast<RemoteKernel&>(kernel).handle());
  SetDim(op->mutable_grid(), config.grid);
  SetDim(op->mutable_block(), config.block);
  op->set_shared_memory_bytes(config.shared_memory_bytes);
  for (const plugin::LaunchArg& a : args) {
    v1::KernelArg* arg = op->add_args();
    switch (a.kind) {
      case ACCEL_ARG_BUFFER:
        if (absl::Status s = connection_->HandleStatus(AsRemote(*a.buffer).handle()); !s.ok()) {
          return s;
        }
        *arg->mutable_buffer() = Range(*a.buffer, a.offset, a.size);
        break;
      case ACCEL_ARG_I32:
        arg->set_i32(*static_cast<const int32_t*>(a.data));
        break;
      case ACCEL_ARG_U32:
        arg->set_u32(*static_cast<const uint32_t*>(a.data));
        break;
      case ACCEL_ARG_I64:
        arg->set_i64(*static_cast<const int64_t*>(a.data));
        break;
      case ACCEL_ARG_U64:
        arg->set_u64(*static_cast<const uint64_t*>(a.data));
        break;
      case ACCEL_ARG_F32:
        arg->set_f32(*static_cast<const float*>(a.data));
        break;
      case ACCEL_ARG_F64:
        arg->set_f64(*static_cast<const double*>(a.data));
        break;
      case ACCEL_ARG_BYTES:
        arg->set_raw(static_cast<const char*>(a.data), a.size);
        break;
    }
  }
  return Submit(std::move(command));
}

absl::Status RemoteStream::RecordEvent(plugin::EventImpl& event) {
  if (absl::Status s = Check({}); !s.ok()) return s;
  v1::Command command;
  OnThisStream(command)->mutable_record_event()->set_event(
      static_cast<RemoteEvent&>(event).handle());
  return Submit(std::move(command));
}

absl::Status RemoteStream::WaitEvent(plugin::EventImpl& event) {
  if (absl::Status s = Check({}); !s.ok()) return s;
  v1::Command command;
  OnThisStream(command)->mutable_wait_event()->set_event(static_cast<RemoteEvent&>(event).handle());
  return Submit(std::move(command));
}

absl::Status RemoteStream::Synchronize() {
  if (absl::Status found = unreported_->Take(); !found.ok()) return found;
  v1::Command command;
  OnThisStream(command)->mutable_synchronize_stream();
  // The node replies with its stream's failure, the first of its work.
  return plugin::StreamFailure(connection_->Call(std::move(command)).status());
}

// ---------------------------------------------------------------- devices --

RemoteDevice::RemoteDevice(std::shared_ptr<Connection> connection, uint32_t index,
                           const v1::LeasedDevice& leased)
    : connection_(std::move(connection)),
      index_(index),
      quota_(leased.memory_quota()),
      properties_{} {
  const v1::DeviceInfo& d = leased.device();
  using plugin::CopyProperty;
  properties_.struct_size = sizeof(properties_);
  CopyProperty(absl::StrCat(d.name(), " @ ", d.id()), properties_.name);
  CopyProperty(d.vendor(), properties_.vendor);
  CopyProperty(d.arch(), properties_.arch);
  CopyProperty(d.uuid(), properties_.uuid);
  CopyProperty(d.pci_bus_id(), properties_.pci_bus_id);
  properties_.numa_node = -1;  // the node's NUMA layout means nothing here
  properties_.compute_units = d.compute_units();
  properties_.total_memory = quota_;
  properties_.max_threads_per_block = d.max_threads_per_block();
  properties_.max_grid[0] = d.max_grid().x();
  properties_.max_grid[1] = d.max_grid().y();
  properties_.max_grid[2] = d.max_grid().z();
  properties_.max_block[0] = d.max_block().x();
  properties_.max_block[1] = d.max_block().y();
  properties_.max_block[2] = d.max_block().z();
  properties_.max_shared_memory_per_block = d.max_shared_memory_per_block();
  // A node's values are only numbers the program reads.
  for (const auto& [id, value] : connection_->native_attributes(d.id())) {
    native_attributes_.push_back({id, 0, value});
  }
}

absl::StatusOr<std::pair<uint64_t, uint64_t>> RemoteDevice::MemoryInfo() {
  v1::Command command;
  command.mutable_memory_info()->set_device(index_);
  absl::StatusOr<v1::Reply> reply = connection_->Call(std::move(command));
  if (!reply.ok()) return reply.status();
  return std::make_pair(reply->free_bytes(), reply->total_bytes());
}

int32_t RemoteDevice::ImageScore(AccelImageFormat format, absl::string_view arch) {
  // The node's backend judges by its own rules; asked once per image kind.
  const std::pair<int32_t, std::string> key(format, std::string(arch));
  {
    absl::MutexLock lock(&scores_mu_);
    if (auto it = scores_.find(key); it != scores_.end()) return it->second;
  }
  v1::Command command;
  command.mutable_image_score()->set_device(index_);
  command.mutable_image_score()->set_format(format);
  command.mutable_image_score()->set_arch(key.second);
  absl::StatusOr<v1::Reply> reply = connection_->Call(std::move(command));
  if (!reply.ok()) return -1;  // a lost session runs nothing; not cached
  absl::MutexLock lock(&scores_mu_);
  scores_[key] = reply->image_score();
  return reply->image_score();
}

absl::StatusOr<std::unique_ptr<plugin::BufferImpl>> RemoteDevice::Allocate(uint64_t size) {
  if (absl::Status alive = connection_->Alive(); !alive.ok()) return alive;
  // The node enforces the quota exactly; counting here too lets an allocation
  // over quota fail now instead of at the next synchronization.
  uint64_t used = used_.load();
  do {
    if (size > quota_ - used) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "lease memory quota on ", properties_.name, ": requested ", hal::FormatByteSize(size),
          ", in use ", hal::FormatByteSize(used), " of ", hal::FormatByteSize(quota_)));
    }
  } while (!used_.compare_exchange_weak(used, used + size));
  const uint64_t handle = connection_->NewHandle();
  v1::Command command;
  command.mutable_allocate_buffer()->set_handle(handle);
  command.mutable_allocate_buffer()->set_device(index_);
  command.mutable_allocate_buffer()->set_size(size);
  if (absl::Status s = connection_->Send(std::move(command)); !s.ok()) {
    used_ -= size;
    return s;
  }
  return std::make_unique<RemoteBuffer>(connection_, handle, size, &used_);
}

absl::StatusOr<std::unique_ptr<plugin::StreamImpl>> RemoteDevice::CreateStream() {
  const uint64_t handle = connection_->NewHandle();
  v1::Command command;
  command.mutable_create_stream()->set_handle(handle);
  command.mutable_create_stream()->set_device(index_);
  if (absl::Status s = connection_->Send(std::move(command)); !s.ok()) return s;
  return std::make_unique<RemoteStream>(connection_, handle);
}

absl::StatusOr<std::unique_ptr<plugin::EventImpl>> RemoteDevice::CreateEvent() {
  const uint64_t handle = connection_->NewHandle();
  v1::Command command;
  command.mutable_create_event()->set_handle(handle);
  command.mutable_create_event()->set_device(index_);
  if (absl::Status s = connection_->Send(std::move(command)); !s.ok()) return s;
  return std::make_unique<RemoteEvent>(connection_, handle);
}

absl::StatusOr<std::unique_ptr<plugin::ModuleImpl>> RemoteDevice::LoadModule(
    AccelImageFormat format, absl::string_view image) {
  const std::string sha256 = pool::Sha256(image);
  const uint64_t handle = connection_->NewHandle();
  auto load = [&](bool with_image) {
    v1::Command command;
    v1::LoadModule* op = command.mutable_load_module();
    op->set_handle(handle);
    op->set_device(index_);
    op->set_format(format);
    op->set_sha256(sha256);
    if (with_image) {
      op->set_has_image(true);
      op->set_image(image.data(), image.size());
    }
    return connection_->Call(std::move(command)).status();
  };
  // Upload each image once per node: after the first, send the digest only.
  absl::Status status;
  if (connection_->NodeHasImage(sha256)) {
    status = load(false);
    if (status.code() == absl::StatusCode::kNotFound) {
      connection_->NoteNodeHasImage(sha256, false);  // evicted there: send it again
      status = load(true);
    }
  } else {
    status = load(true);
  }
  if (!status.ok()) return status;
  connection_->NoteNodeHasImage(sha256, true);
  return std::make_unique<RemoteModule>(connection_, handle);
}

}  // namespace accel::client
