// What Linux sysfs says about a PCI device: vendor and NUMA node. Drivers'
// own APIs do not always tell who made a card (a CUDA-compatible domestic
// card, a Hygon DCU behind HIP); the PCI vendor id does.
#ifndef ACCEL_BACKENDS_COMMON_PCI_SYSFS_H_
#define ACCEL_BACKENDS_COMMON_PCI_SYSFS_H_

#include <cstdint>
#include <string>

namespace accel::backends {

// The first line of a sysfs file, trimmed; "" when unreadable (no sysfs in a
// container, a device behind a virtual bus).
std::string ReadSysfsLine(const std::string& path);
// "0x10de" for the device at a PCI bus id ("0000:17:00.0"), lower case; ""
// when sysfs does not say.
std::string PciVendorId(const std::string& pci_bus_id);
// NVIDIA, AMD, Hygon or Intel for their ids; "PCI vendor 0x..." otherwise;
// "" for an empty id.
std::string PciVendorName(const std::string& vendor_id);
// The device's NUMA node, or -1 when unknown.
int32_t PciNumaNode(const std::string& pci_bus_id);

}  // namespace accel::backends

#endif  // ACCEL_BACKENDS_COMMON_PCI_SYSFS_H_
