// A loaded backend plugin and its devices.
#ifndef ACCEL_HAL_BACKEND_H_
#define ACCEL_HAL_BACKEND_H_

#include <memory>
#include <string>
#include <vector>

#include "accel/hal/device.h"

namespace accel::hal {

namespace internal {
struct BackendState;
}  // namespace internal

class Backend {
 public:
  Backend() = default;

  const std::string& name() const;
  // Path of the plugin library it was loaded from.
  const std::string& library_path() const;
  // "1.0": the plugin's ABI version.
  std::string abi_version() const;
  // False when the backend has no usable device; unavailable_reason() says why
  // ("libcuda.so.1 not found", "driver present but no device", ...).
  bool available() const { return unavailable_reason().empty(); }
  const std::string& unavailable_reason() const;
  const std::vector<Device>& devices() const;

  const std::shared_ptr<internal::BackendState>& state() const { return state_; }
  explicit Backend(std::shared_ptr<internal::BackendState> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<internal::BackendState> state_;
};

}  // namespace accel::hal

#endif  // ACCEL_HAL_BACKEND_H_
