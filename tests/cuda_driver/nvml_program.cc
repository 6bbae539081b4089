// A CUDA program that also asks NVML about its device, as frameworks do:
// linked against libcuda.so.1, NVML loaded by its soname (accel-run puts
// accelpool's libcuda.so.1 and libnvidia-ml.so.1 first). It allocates
// ALLOC_BYTES, then NVML must show its one leased device with QUOTA_BYTES
// in all and the allocation in use. Prints one line per check; exits 0
// only if all pass.
//
//   nvml_program QUOTA_BYTES ALLOC_BYTES
#include <cuda.h>
#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

static int failures = 0;

static void Check(const char* what, bool ok) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++failures;
}

struct Memory {
  unsigned long long total, free, used;  // NVML's nvmlMemory_t
};

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const unsigned long long quota = std::strtoull(argv[1], nullptr, 10);
  const size_t bytes = std::strtoull(argv[2], nullptr, 10);
  Check("cuInit", cuInit(0) == CUDA_SUCCESS);
  CUcontext context = nullptr;
  Check("primary context", cuDevicePrimaryCtxRetain(&context, 0) == CUDA_SUCCESS &&
                               cuCtxSetCurrent(context) == CUDA_SUCCESS);
  CUdeviceptr memory = 0;
  Check("cuMemAlloc", cuMemAlloc(&memory, bytes) == CUDA_SUCCESS);
  Check("cuMemsetD8", cuMemsetD8(memory, 0x5a, bytes) == CUDA_SUCCESS);

  void* nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW);
  Check("libnvidia-ml.so.1 loads", nvml != nullptr);
  if (nvml == nullptr) return 1;
  using Init = int (*)();
  using Count = int (*)(unsigned int*);
  using Handle = int (*)(unsigned int, void**);
  using Info = int (*)(void*, Memory*);
  auto init = reinterpret_cast<Init>(dlsym(nvml, "nvmlInit_v2"));
  auto count = reinterpret_cast<Count>(dlsym(nvml, "nvmlDeviceGetCount_v2"));
  auto handle = reinterpret_cast<Handle>(dlsym(nvml, "nvmlDeviceGetHandleByIndex_v2"));
  auto info = reinterpret_cast<Info>(dlsym(nvml, "nvmlDeviceGetMemoryInfo"));
  auto shutdown = reinterpret_cast<Init>(dlsym(nvml, "nvmlShutdown"));
  Check("its entry points", init && count && handle && info && shutdown);
  if (!(init && count && handle && info && shutdown)) return 1;
  Check("nvmlInit_v2", init() == 0);
  unsigned int devices = 0;
  Check("nvmlDeviceGetCount_v2", count(&devices) == 0);
  Check("one device", devices == 1);
  void* device = nullptr;
  Check("nvmlDeviceGetHandleByIndex_v2", handle(0, &device) == 0);
  // The node reports the session's use with its heartbeat.
  Memory m{};
  for (int i = 0; i < 50 && m.used < bytes; ++i) {
    if (info(device, &m) != 0) break;
    if (m.used < bytes) usleep(200 * 1000);
  }
  std::printf("nvml: total %llu used %llu free %llu\n", m.total, m.used, m.free);
  Check("total is the lease's quota", m.total == quota);
  Check("the allocation is in use", m.used >= bytes);
  Check("nvmlShutdown", shutdown() == 0);
  Check("cuMemFree", cuMemFree(memory) == CUDA_SUCCESS);
  std::printf("%s\n", failures == 0 ? "PASSED" : "FAILED");
  return failures == 0 ? 0 : 1;
}
