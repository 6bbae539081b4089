// A loaded backend plugin: the dlopen handle and its negotiated function table.
#ifndef ACCEL_HAL_SRC_PLUGIN_LIBRARY_H_
#define ACCEL_HAL_SRC_PLUGIN_LIBRARY_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "accel/hal/plugin_abi.h"

namespace accel::hal::internal {

class PluginLibrary {
 public:
  // Loads the library and negotiates the ABI: FAILED_PRECONDITION when it is
  // not a backend or speaks another major version.
  static absl::StatusOr<std::shared_ptr<PluginLibrary>> Open(const std::string& path);
  // A backend table linked into this process: checked the same way, never unloaded.
  static absl::StatusOr<std::shared_ptr<PluginLibrary>> Linked(const AccelBackendApi* api);
  ~PluginLibrary();

  const AccelBackendApi& api() const { return *api_; }
  const std::string& path() const { return path_; }

  // True when the plugin's table reaches the function at `offset` and sets it:
  // an older plugin's table is shorter.
  bool Has(size_t offset) const;

  // Converts a plugin error to a Status and releases it. A failure of a
  // stream itself carries the kStreamFailure payload (see IsStreamFailure).
  absl::Status TakeError(AccelError* error) const;

 private:
  PluginLibrary(void* handle, const AccelBackendApi* api, std::string path)
      : handle_(handle), api_(api), path_(std::move(path)) {}
  void* handle_;
  const AccelBackendApi* api_;
  std::string path_;
};

// Whether a status from TakeError is a failure of the stream itself, which
// the stream keeps as its sticky error; and the same status without the mark.
bool IsStreamFailure(const absl::Status& status);
absl::Status WithoutStreamFailureMark(absl::Status status);

// Functions every ABI 1.0 plugin must provide.
absl::Status CheckRequiredFunctions(const PluginLibrary& library);

}  // namespace accel::hal::internal

#endif  // ACCEL_HAL_SRC_PLUGIN_LIBRARY_H_
