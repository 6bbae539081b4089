#include "accel/hal/backend.h"

#include "absl/strings/str_cat.h"
#include "objects.h"

namespace accel::hal {

const std::string& Backend::name() const { return state_->name; }

const std::string& Backend::library_path() const { return state_->core->library->path(); }

std::string Backend::abi_version() const {
  const AccelBackendApi& api = state_->core->api();
  return absl::StrCat(api.abi_major, ".", api.abi_minor);
}

const std::string& Backend::unavailable_reason() const { return state_->unavailable_reason; }

const std::vector<Device>& Backend::devices() const { return state_->devices; }

}  // namespace accel::hal
