#include "accel/hal/registry.h"

#include <dirent.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "objects.h"

namespace accel::hal {
namespace {

constexpr absl::string_view kPrefix = "libaccel_backend_";
constexpr absl::string_view kSuffix = ".so";

// The directory of libaccel_hal.so itself, found through one of its symbols,
// so the build tree and an install tree are searched alike.
std::string OwnLibraryDirectory() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&OwnLibraryDirectory), &info) == 0 ||
      info.dli_fname == nullptr) {
    return ".";
  }
  std::string path = info.dli_fname;
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::vector<std::string> DefaultSearchPath() {
  std::vector<std::string> path;
  if (const char* env = std::getenv("ACCEL_BACKEND_PATH"); env != nullptr) {
    for (absl::string_view dir : absl::StrSplit(env, ':', absl::SkipEmpty())) {
      path.emplace_back(dir);
    }
  }
  path.push_back(OwnLibraryDirectory() + "/accelpool/backends");
  return path;
}

// Backend name -> library path, first directory wins; sorted by name.
std::vector<std::pair<std::string, std::string>> FindPlugins(
    const std::vector<std::string>& search_path) {
  std::vector<std::pair<std::string, std::string>> found;
  std::set<std::string> seen;
  for (const std::string& dir : search_path) {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) continue;
    std::vector<std::string> names;
    while (dirent* entry = readdir(d)) {
      absl::string_view file = entry->d_name;
      if (absl::StartsWith(file, kPrefix) && absl::EndsWith(file, kSuffix)) {
        names.emplace_back(file);
      }
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const std::string& file : names) {
      std::string name = file.substr(kPrefix.size(), file.size() - kPrefix.size() - kSuffix.size());
      if (seen.insert(name).second) found.emplace_back(name, dir + "/" + file);
    }
  }
  return found;
}

DeviceProperties ConvertProperties(const AccelDeviceProperties& p, const std::string& backend,
                                   uint32_t index) {
  DeviceProperties out;
  out.backend = backend;
  out.index = index;
  out.id = absl::StrCat(backend, ":", index);
  out.name = p.name;
  out.vendor = p.vendor;
  out.arch = p.arch;
  out.uuid = p.uuid;
  out.pci_bus_id = p.pci_bus_id;
  out.numa_node = p.numa_node;
  out.compute_units = p.compute_units;
  out.total_memory = p.total_memory;
  out.max_threads_per_block = p.max_threads_per_block;
  out.max_grid = {p.max_grid[0], p.max_grid[1], p.max_grid[2]};
  out.max_block = {p.max_block[0], p.max_block[1], p.max_block[2]};
  out.max_shared_memory_per_block = p.max_shared_memory_per_block;
  return out;
}

absl::StatusOr<Backend> OpenBackend(const std::string& name,
                                    std::shared_ptr<internal::PluginLibrary> library,
                                    const std::map<std::string, std::string>& options) {
  const AccelBackendApi& api = library->api();
  std::vector<AccelOption> c_options;
  for (const auto& [key, value] : options) c_options.push_back({key.c_str(), value.c_str()});
  AccelBackendOpenArgs args{};
  args.struct_size = sizeof(args);
  args.options = c_options.data();
  args.num_options = c_options.size();

  auto core = std::make_shared<internal::BackendCore>();
  core->library = library;
  absl::Status opened = library->TakeError(api.backend_open(&args, &core->handle));
  if (!opened.ok()) {
    core->handle = nullptr;
    return opened;
  }
  auto state = std::make_shared<internal::BackendState>();
  state->core = core;
  state->name = name;
  const char* reason = api.backend_unavailable_reason(core->handle);
  state->unavailable_reason = reason != nullptr ? reason : "";
  uint32_t count = api.backend_device_count(core->handle);
  for (uint32_t i = 0; i < count; ++i) {
    auto device = std::make_shared<internal::DeviceState>();
    device->core = core;
    absl::Status s = library->TakeError(api.backend_get_device(core->handle, i, &device->handle));
    AccelDeviceProperties props{};
    props.struct_size = sizeof(props);
    if (s.ok()) s = library->TakeError(api.device_properties(device->handle, &props));
    if (!s.ok()) return s;
    device->properties = ConvertProperties(props, name, i);
    if (library->Has(offsetof(AccelBackendApi, device_native_attributes))) {
      const AccelNativeAttribute* attributes = nullptr;
      size_t n = 0;
      if (absl::Status got =
              library->TakeError(api.device_native_attributes(device->handle, &attributes, &n));
          !got.ok()) {
        return got;
      }
      for (size_t a = 0; a < n; ++a) {
        device->properties.native_attributes[attributes[a].id] = attributes[a].value;
      }
    }
    state->devices.emplace_back(std::move(device));
  }
  if (count == 0 && state->unavailable_reason.empty()) state->unavailable_reason = "no devices";
  return Backend(std::move(state));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Registry>> Registry::Create(const RegistryOptions& options) {
  std::unique_ptr<Registry> registry(new Registry());
  std::vector<std::string> search_path =
      options.search_path.empty() ? DefaultSearchPath() : options.search_path;
  for (const auto& [name, path] : FindPlugins(search_path)) {
    if (!options.only.empty() &&
        std::find(options.only.begin(), options.only.end(), name) == options.only.end()) {
      continue;
    }
    absl::StatusOr<std::shared_ptr<internal::PluginLibrary>> library =
        internal::PluginLibrary::Open(path);
    if (!library.ok()) {
      registry->load_failures_.push_back({path, std::string(library.status().message())});
      continue;
    }
    auto opts = options.backend_options.find(name);
    absl::StatusOr<Backend> backend =
        OpenBackend(name, *library,
                    opts != options.backend_options.end() ? opts->second
                                                          : std::map<std::string, std::string>{});
    if (!backend.ok()) {
      registry->load_failures_.push_back(
          {path, absl::StrCat("backend_open failed: ", backend.status().ToString())});
      continue;
    }
    registry->backends_.push_back(*std::move(backend));
  }
  return registry;
}

Registry& Registry::Default() {
  // The one process-wide registry; never destroyed, so plugins stay loaded
  // for objects that outlive main().
  static Registry* const registry = [] {
    RegistryOptions options;
    if (const char* only = std::getenv("ACCEL_BACKENDS"); only != nullptr) {
      for (absl::string_view name : absl::StrSplit(only, ',', absl::SkipEmpty())) {
        options.only.emplace_back(name);
      }
    }
    absl::StatusOr<std::unique_ptr<Registry>> created = Create(options);
    return created.ok() ? created->release() : new Registry();
  }();
  return *registry;
}

absl::StatusOr<Backend> Registry::GetBackend(absl::string_view name) const {
  for (const Backend& b : backends_) {
    if (b.name() == name) return b;
  }
  return absl::NotFoundError(absl::StrCat("no backend named '", name, "' is loaded"));
}

std::vector<Device> Registry::Devices() const {
  std::vector<Device> devices;
  for (const Backend& b : backends_) {
    devices.insert(devices.end(), b.devices().begin(), b.devices().end());
  }
  return devices;
}

absl::StatusOr<Device> Registry::GetDevice(absl::string_view id) const {
  if (id.empty() || id == "any") {
    std::vector<Device> all = Devices();
    if (all.empty()) return absl::NotFoundError("no accelerator device is available");
    return all.front();
  }
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(id, absl::MaxSplits(':', 1));
  absl::StatusOr<Backend> backend = GetBackend(parts.first);
  if (!backend.ok()) return backend.status();
  uint32_t index = 0;
  if (!parts.second.empty() && !absl::SimpleAtoi(parts.second, &index)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad device id '", id, "' (want backend:index)"));
  }
  if (index >= backend->devices().size()) {
    return absl::NotFoundError(absl::StrCat(
        "backend '", parts.first, "' has ", backend->devices().size(), " devices; no device ",
        index, backend->available() ? "" : ": ", backend->unavailable_reason()));
  }
  return backend->devices()[index];
}

absl::StatusOr<Backend> Registry::OpenLinkedBackend(
    const AccelBackendApi* api, const std::map<std::string, std::string>& options) {
  absl::StatusOr<std::shared_ptr<internal::PluginLibrary>> library =
      internal::PluginLibrary::Linked(api);
  if (!library.ok()) return library.status();
  return OpenBackend(api->name, *library, options);
}

std::string Registry::DataDirectory() { return OwnLibraryDirectory() + "/../share/accelpool"; }

}  // namespace accel::hal
