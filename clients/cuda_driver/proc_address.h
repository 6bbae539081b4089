// cuGetProcAddress's lookup (proc_address.cc), and the entry points this
// library defines beyond what the cuda.h it is built with declares.
#ifndef ACCEL_CLIENTS_CUDA_DRIVER_PROC_ADDRESS_H_
#define ACCEL_CLIENTS_CUDA_DRIVER_PROC_ADDRESS_H_

#include <cuda.h>

#include <string>
#include <vector>

namespace accel::cuda_driver {

CUresult GetProcAddress(const char* symbol, void** function, int version,
                        CUdriverProcAddressQueryResult* status);
// Every name cuGetProcAddress answers with a working function.
std::vector<std::string> ImplementedEntryPoints();

}  // namespace accel::cuda_driver

extern "C" {
// CUDA 11.3's cuGetProcAddress, exported under that name.
CUresult CUDAAPI GetProcAddressV1(const char* symbol, void** function, int version,
                                  cuuint64_t flags) __asm__("cuGetProcAddress");
CUresult CUDAAPI cuCtxCreate_v2(CUcontext* context, unsigned int flags, CUdevice device);
CUresult CUDAAPI cuCtxGetDevice_v2(CUdevice* device, CUcontext context);
CUresult CUDAAPI cuCtxSynchronize_v2(CUcontext context);
}

#endif  // ACCEL_CLIENTS_CUDA_DRIVER_PROC_ADDRESS_H_
