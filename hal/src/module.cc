#include "accel/hal/module.h"

#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"
#include "accel/hal/device.h"
#include "objects.h"

namespace accel::hal {

const std::string& Kernel::name() const {
  static const std::string* const kEmpty = new std::string();
  return state_ != nullptr ? state_->name : *kEmpty;
}

const std::optional<std::vector<ArgKind>>& Kernel::signature() const {
  static const auto* const kNone = new std::optional<std::vector<ArgKind>>();
  return state_ != nullptr ? state_->signature : *kNone;
}

Device Kernel::device() const {
  return state_ != nullptr ? Device(state_->module->device) : Device();
}

absl::StatusOr<std::vector<KernelParameter>> Kernel::Parameters() const {
  if (state_ == nullptr) return absl::InvalidArgumentError("empty kernel handle");
  internal::DeviceState& device = *state_->module->device;
  if (!device.core->library->Has(offsetof(AccelBackendApi, kernel_parameters))) {
    return absl::UnimplementedError(absl::StrCat(
        "the ", device.api().name, " backend cannot tell a kernel's parameter layout"));
  }
  // CUDA's parameter buffer is at most 32 KiB, so no kernel has more.
  constexpr uint32_t kMostParameters = 32 * 1024;
  std::vector<AccelKernelParameter> found(16);
  for (int attempt = 0; attempt < 2; ++attempt) {
    uint32_t count = 0;
    absl::Status s = device.TakeError(device.api().kernel_parameters(
        state_->handle, found.data(), static_cast<uint32_t>(found.size()), &count));
    if (!s.ok()) return s;
    if (count > kMostParameters) {
      return absl::InternalError(absl::StrCat("the ", device.api().name, " backend reports ", count,
                                              " parameters for '", state_->name, "'"));
    }
    if (count <= found.size()) {
      std::vector<KernelParameter> params;
      params.reserve(count);
      for (uint32_t i = 0; i < count; ++i) params.push_back({found[i].offset, found[i].size});
      return params;
    }
    found.resize(count);
  }
  return absl::InternalError(absl::StrCat("the ", device.api().name,
                                          " backend's parameter count for '", state_->name,
                                          "' kept changing"));
}

absl::StatusOr<int64_t> Kernel::Query(const KernelQuery& query) const {
  if (state_ == nullptr) return absl::InvalidArgumentError("empty kernel handle");
  internal::DeviceState& device = *state_->module->device;
  if (!device.core->library->Has(offsetof(AccelBackendApi, kernel_query))) {
    return absl::UnimplementedError(
        absl::StrCat("the ", device.api().name, " backend cannot answer questions about a kernel"));
  }
  AccelKernelQuery q{};
  q.struct_size = sizeof(q);
  q.kind = static_cast<uint32_t>(query.kind);
  q.attribute = query.attribute;
  q.flags = query.flags;
  q.blocks = query.blocks;
  const Dim3* dims[] = {&query.grid, &query.block, &query.cluster};
  uint32_t* out_dims[] = {q.grid, q.block, q.cluster};
  for (int i = 0; i < 3; ++i) {
    out_dims[i][0] = dims[i]->x;
    out_dims[i][1] = dims[i]->y;
    out_dims[i][2] = dims[i]->z;
  }
  q.dynamic_shared_bytes = query.dynamic_shared_bytes;
  int64_t answer = 0;
  absl::Status s = device.TakeError(device.api().kernel_query(state_->handle, &q, &answer));
  if (!s.ok()) return s;
  return answer;
}

ImageFormat Module::format() const {
  return state_ != nullptr ? state_->format : ImageFormat::kHostElf;
}

Device Module::device() const { return state_ != nullptr ? Device(state_->device) : Device(); }

absl::StatusOr<Kernel> Module::GetKernel(absl::string_view name) const {
  if (state_ == nullptr) return absl::InvalidArgumentError("empty module handle");
  std::string name_string(name);
  internal::DeviceState& device = *state_->device;
  AccelKernel* handle = nullptr;
  const char* image_signature = nullptr;
  absl::Status s = device.TakeError(device.api().module_get_kernel(
      state_->handle, name_string.c_str(), &handle, &image_signature));
  if (!s.ok()) return s;

  auto kernel = std::make_shared<internal::KernelState>();
  kernel->module = state_;
  kernel->handle = handle;
  kernel->name = std::move(name_string);
  // A bundle's declaration wins: it is the one source for every format.
  if (auto it = state_->bundle_signatures.find(kernel->name);
      it != state_->bundle_signatures.end()) {
    kernel->signature = it->second;
  } else if (image_signature != nullptr) {
    absl::StatusOr<std::vector<ArgKind>> parsed = ParseSignature(image_signature);
    if (!parsed.ok()) {
      return absl::InternalError(absl::StrCat("backend reported a malformed signature for '",
                                              kernel->name, "': ", parsed.status().message()));
    }
    kernel->signature = *std::move(parsed);
  }
  return Kernel(std::move(kernel));
}

absl::StatusOr<Buffer> Module::GetGlobal(absl::string_view name) const {
  if (state_ == nullptr) return absl::InvalidArgumentError("empty module handle");
  internal::DeviceState& device = *state_->device;
  if (!device.core->library->Has(offsetof(AccelBackendApi, module_get_global))) {
    return absl::UnimplementedError(
        absl::StrCat("the ", device.api().name, " backend's modules have no globals"));
  }
  std::string name_string(name);
  AccelBuffer* handle = nullptr;
  uint64_t size = 0;
  absl::Status s = device.TakeError(
      device.api().module_get_global(state_->handle, name_string.c_str(), &handle, &size));
  if (!s.ok()) return s;
  auto buffer = std::make_shared<internal::BufferState>();
  buffer->device = state_->device;
  buffer->size = size;
  buffer->module = state_;
  {
    absl::MutexLock lock(&buffer->mu);
    buffer->handle = handle;
  }
  return Buffer(std::move(buffer));
}

}  // namespace accel::hal
