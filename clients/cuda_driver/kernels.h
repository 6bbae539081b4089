// Modules and kernels in accelpool's libcuda.so.1. A module keeps the
// program's image (a fatbin, cubin or PTX) until a kernel of it is
// launched; functions are looked up by name. A device that is no CUDA
// device (a pool of host devices) has no kernel image to run:
// CUDA_ERROR_NO_BINARY_FOR_GPU at launch, which the runtime reports as
// cudaErrorNoKernelImageForDevice. Launches on CUDA devices of the pool are
// the next step (they need the node's kernel parameter layouts).
#ifndef ACCEL_CLIENTS_CUDA_DRIVER_KERNELS_H_
#define ACCEL_CLIENTS_CUDA_DRIVER_KERNELS_H_

#include <cuda.h>

namespace accel::cuda_driver {

// A module for the runtime's registration of an embedded fatbin: `image`
// is the fatbin itself, or with `is_wrapper` the runtime's wrapper around
// it (a magic number, a version, a pointer to the fatbin).
CUresult LoadFatbinModule(CUmodule* module, const void* image, bool is_wrapper);

}  // namespace accel::cuda_driver

#endif  // ACCEL_CLIENTS_CUDA_DRIVER_KERNELS_H_
