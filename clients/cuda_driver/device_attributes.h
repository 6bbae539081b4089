// cuDeviceGetAttribute for a leased device. A cuda device's value is its
// node's driver's own (the node reports every attribute its driver
// answers), except for attributes that say what a program can do through
// this library (managed or mapped host memory, memory pools, IPC, ...),
// which answer what the library serves. Where the node reports no values
// (a host device, an older node), the HAL properties give what they carry,
// and other attributes the value of a device without the feature (0), or
// for limits what a CUDA device of the same compute capability has.
#ifndef ACCEL_CLIENTS_CUDA_DRIVER_DEVICE_ATTRIBUTES_H_
#define ACCEL_CLIENTS_CUDA_DRIVER_DEVICE_ATTRIBUTES_H_

#include <cuda.h>

#include <optional>

#include "accel/hal/types.h"

namespace accel::cuda_driver {

// The compute capability: "sm_90" -> {9, 0}; {0, 0} for a device that is
// no CUDA device (a host device runs no CUDA kernels).
struct ComputeCapability {
  int major = 0;
  int minor = 0;
};
ComputeCapability CapabilityOf(const hal::DeviceProperties& properties);

// nullopt for an attribute number CUDA does not define.
std::optional<int> DeviceAttribute(const hal::DeviceProperties& properties,
                                   CUdevice_attribute attribute);

}  // namespace accel::cuda_driver

#endif  // ACCEL_CLIENTS_CUDA_DRIVER_DEVICE_ATTRIBUTES_H_
