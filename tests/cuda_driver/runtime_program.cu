// An ordinary CUDA runtime program, built by plain nvcc (static cudart, no
// kernels), that checks what it gets byte for byte: run through accel-run
// against a pool, it proves that accelpool's libcuda.so.1 serves the
// runtime. Prints one line per check; exits 0 only if all pass.
//
//   runtime_program [QUOTA_BYTES]   (the lease's memory, to check cudaMemGetInfo)
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

static int failures = 0;

#define CHECK(what, cond)                                      \
  do {                                                         \
    const bool ok_ = (cond);                                   \
    std::printf("%s %s\n", ok_ ? "ok  " : "FAIL", what);       \
    if (!ok_) ++failures;                                      \
  } while (0)

#define CHECK_CUDA(what, call)                                                        \
  do {                                                                                \
    const cudaError_t e_ = (call);                                                    \
    std::printf("%s %s: %s\n", e_ == cudaSuccess ? "ok  " : "FAIL", what,             \
                cudaGetErrorName(e_));                                                \
    if (e_ != cudaSuccess) ++failures;                                                \
  } while (0)

int main(int argc, char** argv) {
  const unsigned long long quota = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 0;
  int count = 0;
  CHECK_CUDA("cudaGetDeviceCount", cudaGetDeviceCount(&count));
  CHECK("one device or more", count >= 1);
  if (count < 1) return 1;
  cudaDeviceProp prop;
  CHECK_CUDA("cudaGetDeviceProperties", cudaGetDeviceProperties(&prop, 0));
  std::printf("device 0: %s, %zu bytes, %d units\n", prop.name, prop.totalGlobalMem,
              prop.multiProcessorCount);
  CHECK("a name", prop.name[0] != '\0');
  CHECK("global memory", prop.totalGlobalMem > 0);
  CHECK_CUDA("cudaSetDevice", cudaSetDevice(0));

  size_t free_bytes = 0, total_bytes = 0;
  CHECK_CUDA("cudaMemGetInfo", cudaMemGetInfo(&free_bytes, &total_bytes));
  if (quota != 0) CHECK("total is the lease's quota", total_bytes == quota);
  CHECK("free within total", free_bytes <= total_bytes);

  const size_t n = 3 << 20;  // 3 MiB: several copy chunks
  std::vector<unsigned char> in(n), out(n);
  for (size_t i = 0; i < n; ++i) in[i] = static_cast<unsigned char>(i * 7 + i / 4093);
  unsigned char *a = nullptr, *b = nullptr;
  CHECK_CUDA("cudaMalloc a", cudaMalloc(&a, n));
  CHECK_CUDA("cudaMalloc b", cudaMalloc(&b, n));
  CHECK_CUDA("cudaMemcpy to the device", cudaMemcpy(a, in.data(), n, cudaMemcpyHostToDevice));
  CHECK_CUDA("cudaMemcpy device to device", cudaMemcpy(b, a, n, cudaMemcpyDeviceToDevice));
  CHECK_CUDA("cudaMemcpy to the host", cudaMemcpy(out.data(), b, n, cudaMemcpyDeviceToHost));
  CHECK("the bytes came back", out == in);
  // Pointer arithmetic: the middle of an allocation is a pointer too.
  CHECK_CUDA("cudaMemcpy from an offset",
             cudaMemcpy(out.data(), a + 1000, 4096, cudaMemcpyDeviceToHost));
  CHECK("offset bytes", std::memcmp(out.data(), in.data() + 1000, 4096) == 0);
  CHECK_CUDA("cudaMemcpyDefault (unified addressing)",
             cudaMemcpy(out.data(), a, n, cudaMemcpyDefault));
  CHECK("unified copy bytes", out == in);

  CHECK_CUDA("cudaMemset", cudaMemset(b, 0x5a, n));
  CHECK_CUDA("cudaMemcpy back", cudaMemcpy(out.data(), b, n, cudaMemcpyDeviceToHost));
  bool all = true;
  for (unsigned char c : out) all = all && c == 0x5a;
  CHECK("memset bytes", all);

  // Two streams ordered by an event, timed.
  cudaStream_t s1, s2;
  cudaEvent_t start, copied, end;
  CHECK_CUDA("cudaStreamCreate 1", cudaStreamCreate(&s1));
  CHECK_CUDA("cudaStreamCreate 2", cudaStreamCreate(&s2));
  CHECK_CUDA("cudaEventCreate start", cudaEventCreate(&start));
  CHECK_CUDA("cudaEventCreate copied", cudaEventCreate(&copied));
  CHECK_CUDA("cudaEventCreate end", cudaEventCreate(&end));
  unsigned char* pinned = nullptr;
  CHECK_CUDA("cudaMallocHost", cudaMallocHost(&pinned, n));
  std::memset(pinned, 0, n);
  CHECK_CUDA("cudaEventRecord start", cudaEventRecord(start, s1));
  CHECK_CUDA("cudaMemcpyAsync on stream 1",
             cudaMemcpyAsync(b, in.data(), n, cudaMemcpyHostToDevice, s1));
  CHECK_CUDA("cudaEventRecord copied", cudaEventRecord(copied, s1));
  CHECK_CUDA("cudaStreamWaitEvent", cudaStreamWaitEvent(s2, copied, 0));
  CHECK_CUDA("cudaMemcpyAsync on stream 2",
             cudaMemcpyAsync(pinned, b, n, cudaMemcpyDeviceToHost, s2));
  CHECK_CUDA("cudaEventRecord end", cudaEventRecord(end, s2));
  CHECK_CUDA("cudaStreamSynchronize", cudaStreamSynchronize(s2));
  CHECK("stream 2 saw stream 1's copy", std::memcmp(pinned, in.data(), n) == 0);
  CHECK_CUDA("cudaEventSynchronize", cudaEventSynchronize(end));
  float ms = -1;
  CHECK_CUDA("cudaEventElapsedTime", cudaEventElapsedTime(&ms, start, end));
  CHECK("elapsed time", ms >= 0);
  CHECK_CUDA("cudaStreamQuery", cudaStreamQuery(s1));
  CHECK_CUDA("cudaDeviceSynchronize", cudaDeviceSynchronize());

  // Bad inputs: the runtime's usual errors, and the program goes on.
  cudaError_t e = cudaMemcpy(out.data(), a + n - 16, 4096, cudaMemcpyDeviceToHost);
  CHECK("a copy past the end is cudaErrorInvalidValue", e == cudaErrorInvalidValue);
  cudaGetLastError();
  unsigned char* freed = nullptr;
  CHECK_CUDA("cudaMalloc to free", cudaMalloc(&freed, 4096));
  CHECK_CUDA("cudaFree", cudaFree(freed));
  e = cudaMemcpy(out.data(), freed, 16, cudaMemcpyDeviceToHost);
  CHECK("a freed pointer is refused", e != cudaSuccess);
  cudaGetLastError();
  void* huge = nullptr;
  e = cudaMalloc(&huge, total_bytes + (1ull << 30));
  CHECK("over the quota is cudaErrorMemoryAllocation", e == cudaErrorMemoryAllocation);
  cudaGetLastError();
  CHECK_CUDA("still working after the errors",
             cudaMemcpy(out.data(), a, 4096, cudaMemcpyDeviceToHost));
  CHECK("and right", std::memcmp(out.data(), in.data(), 4096) == 0);

  CHECK_CUDA("cudaFreeHost", cudaFreeHost(pinned));
  CHECK_CUDA("cudaEventDestroy", cudaEventDestroy(start));
  cudaEventDestroy(copied);
  cudaEventDestroy(end);
  CHECK_CUDA("cudaStreamDestroy", cudaStreamDestroy(s1));
  cudaStreamDestroy(s2);
  CHECK_CUDA("cudaFree a", cudaFree(a));
  CHECK_CUDA("cudaFree b", cudaFree(b));
  std::printf("%s: %d failure(s)\n", failures == 0 ? "PASSED" : "FAILED", failures);
  return failures == 0 ? 0 : 1;
}
