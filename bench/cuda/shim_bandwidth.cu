// The CUDA side of cuda-shim-bench: an ordinary runtime program (nvcc,
// static cudart) timing cudaMemcpy both ways and cudaStreamSynchronize, run
// through accel-run so that accelpool's libcuda.so.1 serves it.
//
//   shim_bandwidth MIB REPEATS ROUND_TRIPS
//
// Prints "h2d_gbps X", "d2h_gbps X" and "sync_us X", each the best of
// REPEATS.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  const size_t bytes = std::strtoull(argv[1], nullptr, 10) << 20;
  const int repeats = std::atoi(argv[2]);
  const int round_trips = std::atoi(argv[3]);
  void *host = nullptr, *device = nullptr;
  if (cudaMallocHost(&host, bytes) != cudaSuccess || cudaMalloc(&device, bytes) != cudaSuccess) {
    std::fprintf(stderr, "shim_bandwidth: cannot allocate %zu bytes\n", bytes);
    return 1;
  }
  std::memset(host, 7, bytes);
  if (cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice) != cudaSuccess) return 1;  // warm
  double up = 1e30, down = 1e30, sync = 1e30;
  for (int r = 0; r < repeats; ++r) {
    auto t = std::chrono::steady_clock::now();
    if (cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice) != cudaSuccess) return 1;
    up = std::min(up, Seconds(t));
    t = std::chrono::steady_clock::now();
    if (cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost) != cudaSuccess) return 1;
    down = std::min(down, Seconds(t));
  }
  cudaStream_t stream;
  if (cudaStreamCreate(&stream) != cudaSuccess) return 1;
  for (int r = 0; r < repeats; ++r) {
    const auto t = std::chrono::steady_clock::now();
    for (int i = 0; i < round_trips; ++i) {
      if (cudaStreamSynchronize(stream) != cudaSuccess) return 1;
    }
    sync = std::min(sync, Seconds(t) / round_trips);
  }
  std::printf("h2d_gbps %.3f\nd2h_gbps %.3f\nsync_us %.1f\n", bytes / up / 1e9, bytes / down / 1e9,
              sync * 1e6);
  return 0;
}
