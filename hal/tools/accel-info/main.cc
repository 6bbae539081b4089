// accel-info: every backend the HAL finds, whether it is usable (and why not),
// and its devices with their properties. `--json` for machines.
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "accel/hal/hal.h"

namespace {

using accel::hal::Backend;
using accel::hal::Device;
using accel::hal::Registry;

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string DeviceJson(const Device& device) {
  const accel::hal::DeviceProperties& p = device.properties();
  absl::StatusOr<accel::hal::MemoryInfo> memory = device.GetMemoryInfo();
  return absl::StrFormat(
      "{\"id\": %s, \"name\": %s, \"vendor\": %s, \"arch\": %s, \"uuid\": %s, "
      "\"pci_bus_id\": %s, \"numa_node\": %d, \"compute_units\": %u, \"total_memory\": %u, "
      "\"free_memory\": %u, \"max_threads_per_block\": %u, "
      "\"max_shared_memory_per_block\": %u}",
      JsonString(p.id), JsonString(p.name), JsonString(p.vendor), JsonString(p.arch),
      JsonString(p.uuid), JsonString(p.pci_bus_id), p.numa_node, p.compute_units, p.total_memory,
      memory.ok() ? memory->free_bytes : 0, p.max_threads_per_block, p.max_shared_memory_per_block);
}

void PrintJson(const Registry& registry) {
  std::string out = "{\"backends\": [";
  bool first = true;
  for (const Backend& b : registry.backends()) {
    absl::StrAppend(&out, first ? "" : ", ", "{\"name\": ", JsonString(b.name()),
                    ", \"available\": ", b.available() ? "true" : "false",
                    ", \"reason\": ", JsonString(b.unavailable_reason()),
                    ", \"library\": ", JsonString(b.library_path()),
                    ", \"abi\": ", JsonString(b.abi_version()), ", \"devices\": [");
    for (size_t i = 0; i < b.devices().size(); ++i) {
      absl::StrAppend(&out, i ? ", " : "", DeviceJson(b.devices()[i]));
    }
    out += "]}";
    first = false;
  }
  out += "], \"load_failures\": [";
  for (size_t i = 0; i < registry.load_failures().size(); ++i) {
    const accel::hal::PluginLoadFailure& f = registry.load_failures()[i];
    absl::StrAppend(&out, i ? ", " : "", "{\"library\": ", JsonString(f.library_path),
                    ", \"reason\": ", JsonString(f.reason), "}");
  }
  out += "]}\n";
  std::fputs(out.c_str(), stdout);
}

void PrintText(const Registry& registry) {
  for (const Backend& b : registry.backends()) {
    if (b.available()) {
      std::printf("%-10s available, %zu device(s)  [%s, ABI %s]\n", b.name().c_str(),
                  b.devices().size(), b.library_path().c_str(), b.abi_version().c_str());
    } else {
      std::printf("%-10s unavailable: %s\n", b.name().c_str(), b.unavailable_reason().c_str());
    }
    for (const Device& d : b.devices()) {
      const accel::hal::DeviceProperties& p = d.properties();
      absl::StatusOr<accel::hal::MemoryInfo> memory = d.GetMemoryInfo();
      std::printf("  %-8s %s (%s, %s)  UUID %s\n", p.id.c_str(), p.name.c_str(), p.vendor.c_str(),
                  p.arch.c_str(), p.uuid.c_str());
      std::printf("           memory %s free of %s, %u compute units, max %u threads/block",
                  memory.ok() ? accel::hal::FormatByteSize(memory->free_bytes).c_str() : "?",
                  accel::hal::FormatByteSize(p.total_memory).c_str(), p.compute_units,
                  p.max_threads_per_block);
      if (!p.pci_bus_id.empty()) std::printf(", PCI %s", p.pci_bus_id.c_str());
      if (p.numa_node >= 0) std::printf(", NUMA %d", p.numa_node);
      std::printf("\n");
    }
  }
  for (const accel::hal::PluginLoadFailure& f : registry.load_failures()) {
    std::printf("not loaded: %s: %s\n", f.library_path.c_str(), f.reason.c_str());
  }
  if (registry.backends().empty() && registry.load_failures().empty()) {
    std::printf("no backends found (set ACCEL_BACKEND_PATH?)\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else {
      std::fprintf(stderr, "usage: accel-info [--json]\n");
      return 2;
    }
  }
  const Registry& registry = Registry::Default();
  if (json) {
    PrintJson(registry);
  } else {
    PrintText(registry);
  }
  return 0;
}
