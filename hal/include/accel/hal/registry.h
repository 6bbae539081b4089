// The backend registry: finds backend plugins, loads them, and lists devices.
// It is the only process-wide state in the HAL.
#ifndef ACCEL_HAL_REGISTRY_H_
#define ACCEL_HAL_REGISTRY_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "accel/hal/backend.h"
#include "accel/hal/device.h"

namespace accel::hal {

// A plugin that was found but could not be loaded (bad ABI, missing symbol).
struct PluginLoadFailure {
  std::string library_path;
  std::string reason;
};

struct RegistryOptions {
  // Directories searched for libaccel_backend_<name>.so, in order; the first
  // library of a name wins. Empty: ACCEL_BACKEND_PATH (colon separated), then
  // <directory of libaccel_hal.so>/accelpool/backends.
  std::vector<std::string> search_path;
  // Load only these backends (empty: all found). ACCEL_BACKENDS overrides
  // the default registry's choice with a comma-separated list.
  std::vector<std::string> only;
  // Per-backend options, e.g. {"host", {{"devices", "4"}}}.
  std::map<std::string, std::map<std::string, std::string>> backend_options;
};

class Registry {
 public:
  static absl::StatusOr<std::unique_ptr<Registry>> Create(const RegistryOptions& options);
  // The process-wide registry with default options, created on first use.
  static Registry& Default();

  const std::vector<Backend>& backends() const { return backends_; }
  const std::vector<PluginLoadFailure>& load_failures() const { return load_failures_; }
  // NOT_FOUND when no backend of that name was loaded.
  absl::StatusOr<Backend> GetBackend(absl::string_view name) const;
  // Every device of every available backend.
  std::vector<Device> Devices() const;
  // "host:1" (backend:index), or "" / "any" for the first device.
  absl::StatusOr<Device> GetDevice(absl::string_view id) const;

  // Opens a backend linked into this process rather than loaded from a
  // plugin file (the client SDK's remote backend, a statically linked one).
  static absl::StatusOr<Backend> OpenLinkedBackend(
      const AccelBackendApi* api, const std::map<std::string, std::string>& options);

  // The directory holding accelpool's data (kernel bundles):
  // <directory of libaccel_hal.so>/../share/accelpool.
  static std::string DataDirectory();

 private:
  Registry() = default;
  std::vector<Backend> backends_;
  std::vector<PluginLoadFailure> load_failures_;
};

}  // namespace accel::hal

#endif  // ACCEL_HAL_REGISTRY_H_
