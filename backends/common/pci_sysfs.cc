#include "backends/common/pci_sysfs.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace accel::backends {

std::string ReadSysfsLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  return std::string(absl::StripAsciiWhitespace(line));
}

std::string PciVendorId(const std::string& pci_bus_id) {
  if (pci_bus_id.empty()) return "";
  return absl::AsciiStrToLower(ReadSysfsLine("/sys/bus/pci/devices/" + pci_bus_id + "/vendor"));
}

std::string PciVendorName(const std::string& vendor_id) {
  const std::string id = absl::AsciiStrToLower(vendor_id);
  if (id.empty()) return "";
  if (id == "0x10de") return "NVIDIA";
  if (id == "0x1002") return "AMD";
  if (id == "0x1d94") return "Hygon";
  if (id == "0x8086") return "Intel";
  return absl::StrCat("PCI vendor ", id);
}

int32_t PciNumaNode(const std::string& pci_bus_id) {
  if (pci_bus_id.empty()) return -1;
  int32_t node = -1;
  if (!absl::SimpleAtoi(ReadSysfsLine("/sys/bus/pci/devices/" + pci_bus_id + "/numa_node"),
                        &node) ||
      node < 0) {
    return -1;
  }
  return node;
}

}  // namespace accel::backends
