// A driver-API program, linked against libcuda.so.1 as such programs are
// (accel-run puts accelpool's first): a device of the lease, its memory,
// copies checked byte for byte, errors for what does not exist, and
// cuGetProcAddress for every name in NAMES_FILE (one a line: the names the
// library exports). Prints one line per check; exits 0 only if all pass.
//
//   driver_api_program NAMES_FILE QUOTA_BYTES
#include <cuda.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

static int failures = 0;

static void Check(const char* what, bool ok) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++failures;
}

static void CheckResult(const char* what, CUresult got, CUresult want = CUDA_SUCCESS) {
  const char* name = nullptr;
  cuGetErrorName(got, &name);
  std::printf("%s %s: %s\n", got == want ? "ok  " : "FAIL", what, name != nullptr ? name : "?");
  if (got != want) ++failures;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const size_t quota = std::strtoull(argv[2], nullptr, 10);
  CheckResult("cuInit", cuInit(0));
  int devices = 0;
  CheckResult("cuDeviceGetCount", cuDeviceGetCount(&devices));
  Check("one device", devices == 1);
  int warp = 0;
  CheckResult("warp size", cuDeviceGetAttribute(&warp, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 0));
  Check("warp size is 32", warp == 32);
  CheckResult("an attribute CUDA does not define",
              cuDeviceGetAttribute(&warp, static_cast<CUdevice_attribute>(100000), 0),
              CUDA_ERROR_INVALID_VALUE);
  CheckResult("a device that is not leased",
              cuDeviceGetAttribute(&warp, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 7),
              CUDA_ERROR_INVALID_DEVICE);
  CUdeviceptr a = 0, b = 0;
  CheckResult("no context yet", cuMemAlloc(&a, 16), CUDA_ERROR_INVALID_CONTEXT);
  CUcontext context = nullptr;
  CheckResult("cuCtxCreate", cuCtxCreate(&context, nullptr, 0, 0));
  CheckResult("a context this library never made",
              cuCtxSetCurrent(reinterpret_cast<CUcontext>(&warp)), CUDA_ERROR_INVALID_CONTEXT);
  size_t free_bytes = 0, total = 0;
  CheckResult("cuMemGetInfo", cuMemGetInfo(&free_bytes, &total));
  Check("total is the quota", total == quota);
  CheckResult("cuMemAlloc", cuMemAlloc(&a, 1 << 20));
  std::vector<unsigned> in(1 << 18), out(1 << 18);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<unsigned>(i * 2654435761u);
  CheckResult("cuMemcpyHtoD", cuMemcpyHtoD(a, in.data(), 1 << 20));
  CheckResult("cuMemcpyDtoH", cuMemcpyDtoH(out.data(), a, 1 << 20));
  Check("bytes back", out == in);
  CheckResult("cuMemsetD32 in the middle", cuMemsetD32(a + 4096, 0xdeadbeef, 16));
  CheckResult("cuMemsetD16", cuMemsetD16(a + 8192, 0x1234, 8));
  CheckResult("cuMemsetD8", cuMemsetD8(a + 9000, 0x7f, 3));
  CheckResult("cuCtxSynchronize", cuCtxSynchronize());
  CheckResult("cuMemcpyDtoH again", cuMemcpyDtoH(out.data(), a, 1 << 20));
  Check("D32 fill", out[1024] == 0xdeadbeefu && out[1039] == 0xdeadbeefu && out[1040] == in[1040]);
  Check("D16 fill", out[2048] == 0x12341234u && out[2051] == 0x12341234u);
  const auto* bytes = reinterpret_cast<const unsigned char*>(out.data());
  Check("D8 fill", bytes[9000] == 0x7f && bytes[9002] == 0x7f);
  CheckResult("cuMemAlloc b", cuMemAlloc(&b, 1 << 20));
  CheckResult("cuMemcpyDtoD", cuMemcpyDtoD(b, a, 1 << 20));
  CheckResult("cuMemcpy (unified)",
              cuMemcpy(reinterpret_cast<CUdeviceptr>(out.data()), b, 1 << 20));
  CheckResult("cuMemcpyDtoH from b", cuMemcpyDtoH(out.data(), b, 4));
  CUdeviceptr base = 0;
  size_t size = 0;
  CheckResult("cuMemGetAddressRange", cuMemGetAddressRange(&base, &size, a + 100));
  Check("the range is the allocation", base == a && size == (1u << 20));
  unsigned memory_type = 0;
  CheckResult("cuPointerGetAttribute",
              cuPointerGetAttribute(&memory_type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, a + 5));
  Check("device memory", memory_type == CU_MEMORYTYPE_DEVICE);
  // Bad addresses: past the end, unknown, freed; over the quota.
  CheckResult("past the end", cuMemcpyDtoH(out.data(), a + (1 << 20) - 8, 16),
              CUDA_ERROR_INVALID_VALUE);
  CheckResult("an address that was never allocated", cuMemcpyDtoH(out.data(), 0x1234, 16),
              CUDA_ERROR_INVALID_VALUE);
  CheckResult("cuMemFree b", cuMemFree(b));
  CheckResult("a freed range", cuMemcpyDtoH(out.data(), b, 16), CUDA_ERROR_INVALID_VALUE);
  CheckResult("a second free", cuMemFree(b), CUDA_ERROR_INVALID_VALUE);
  CheckResult("over the quota", cuMemAlloc(&b, quota + 1), CUDA_ERROR_OUT_OF_MEMORY);
  CUstream stream = nullptr;
  CUevent start = nullptr, end = nullptr;
  CheckResult("cuStreamCreate", cuStreamCreate(&stream, 0));
  CheckResult("cuEventCreate", cuEventCreate(&start, 0));
  CheckResult("cuEventCreate", cuEventCreate(&end, 0));
  CheckResult("cuEventRecord", cuEventRecord(start, stream));
  CheckResult("cuMemcpyHtoDAsync", cuMemcpyHtoDAsync(a, in.data(), 1 << 20, stream));
  CheckResult("cuEventRecord", cuEventRecord(end, stream));
  CheckResult("cuStreamSynchronize", cuStreamSynchronize(stream));
  CheckResult("cuStreamQuery", cuStreamQuery(stream));
  float ms = -1;
  CheckResult("cuEventElapsedTime", cuEventElapsedTime(&ms, start, end));
  CheckResult("a stream this library never made",
              cuStreamSynchronize(reinterpret_cast<CUstream>(&warp)), CUDA_ERROR_INVALID_HANDLE);
  cuEventDestroy(start);
  cuEventDestroy(end);
  CheckResult("cuStreamDestroy", cuStreamDestroy(stream));
  CheckResult("cuMemFree a", cuMemFree(a));

  // cuGetProcAddress for every exported name, by its base name.
  std::ifstream names(argv[1]);
  int found = 0;
  for (std::string name; std::getline(names, name);) {
    void* f = nullptr;
    CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    const CUresult r = cuGetProcAddress(name.c_str(), &f, CUDA_VERSION, 0, &status);
    if (r != CUDA_SUCCESS || status != CU_GET_PROC_ADDRESS_SUCCESS || f == nullptr) {
      std::printf("FAIL cuGetProcAddress %s\n", name.c_str());
      ++failures;
    } else {
      ++found;
    }
  }
  std::printf("cuGetProcAddress found %d exported names\n", found);
  Check("many names", found > 80);
  void* missing = nullptr;
  CheckResult("an unimplemented name still resolves",
              cuGetProcAddress("cuGraphicsGLRegisterBuffer", &missing, CUDA_VERSION, 0, nullptr));
  CheckResult("and answers not supported",
              missing != nullptr ? reinterpret_cast<CUresult (*)()>(missing)() : CUDA_ERROR_UNKNOWN,
              CUDA_ERROR_NOT_SUPPORTED);
  CUdriverProcAddressQueryResult status;
  void* older = nullptr;
  CheckResult("a signature older than any implemented",
              cuGetProcAddress("cuMemAlloc", &older, 2000, 0, &status), CUDA_ERROR_NOT_FOUND);
  Check("is VERSION_NOT_SUFFICIENT", status == CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
  std::printf("%s: %d failure(s)\n", failures == 0 ? "PASSED" : "FAILED", failures);
  return failures == 0 ? 0 : 1;
}
