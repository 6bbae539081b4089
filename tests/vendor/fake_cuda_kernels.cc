#include "tests/vendor/fake_cuda_kernels.h"

#include <cstring>

namespace accel::fake_cuda {
namespace {

// A parameter's value, read as CUDA passes it: through its pointer.
template <typename T>
T Param(void** params, int index) {
  T value;
  std::memcpy(&value, params[index], sizeof(T));
  return value;
}

// Every thread index of a one-dimensional launch, in turn.
template <typename F>
void ForEachThread(Dim3 grid, Dim3 block, F&& body) {
  const uint64_t threads = uint64_t{grid.x} * grid.y * grid.z * block.x * block.y * block.z;
  for (uint64_t i = 0; i < threads; ++i) body(i);
}

// __global__ void scale(float* x, float a, int n): x[i] *= a.
void Scale(void** params, Dim3 grid, Dim3 block) {
  auto* x = Param<float*>(params, 0);
  const auto a = Param<float>(params, 1);
  const auto n = Param<int>(params, 2);
  ForEachThread(grid, block, [&](uint64_t i) {
    if (i < static_cast<uint64_t>(n)) x[i] *= a;
  });
}

// __global__ void add(const float* a, const float* b, float* c, int n).
void Add(void** params, Dim3 grid, Dim3 block) {
  const auto* a = Param<const float*>(params, 0);
  const auto* b = Param<const float*>(params, 1);
  auto* c = Param<float*>(params, 2);
  const auto n = Param<int>(params, 3);
  ForEachThread(grid, block, [&](uint64_t i) {
    if (i < static_cast<uint64_t>(n)) c[i] = a[i] + b[i];
  });
}

// struct Span { float* data; int n; };
// __global__ void fill(Span s, float v): s.data[i] = v, through the pointer
// the struct carries.
void Fill(void** params, Dim3 grid, Dim3 block) {
  struct Span {
    float* data;
    int n;
  };
  const auto s = Param<Span>(params, 0);
  const auto v = Param<float>(params, 1);
  ForEachThread(grid, block, [&](uint64_t i) {
    if (i < static_cast<uint64_t>(s.n)) s.data[i] = v;
  });
}

// __global__ void matmul(const float* a, const float* b, float* c, int n) of
// bench/gpu/programs/matrix_mul.cu: c = a x b, n x n, one thread an entry
// (the device's tiles are its own business), so that run-on-gpu.sh can be
// rehearsed without a GPU.
void Matmul(void** params, Dim3 grid, Dim3 block) {
  const auto* a = Param<const float*>(params, 0);
  const auto* b = Param<const float*>(params, 1);
  auto* c = Param<float*>(params, 2);
  const auto n = static_cast<uint64_t>(Param<int>(params, 3));
  ForEachThread(grid, block, [&](uint64_t i) {
    if (i >= n * n) return;
    float sum = 0;
    for (uint64_t k = 0; k < n; ++k) sum += a[i / n * n + k] * b[k * n + i % n];
    c[i] = sum;
  });
}

// extern "C" __global__ void empty() of the accelpool kernel set, which
// bench/gpu/cuda_overhead_bench launches.
void Empty(void**, Dim3, Dim3) {}

const FakeKernel kKernels[] = {
    {"_Z5scalePffi", {{0, 8}, {8, 4}, {12, 4}}, Scale},
    {"_Z3addPKfS0_Pfi", {{0, 8}, {8, 8}, {16, 8}, {24, 4}}, Add},
    {"_Z4fill4Spanf", {{0, 16}, {16, 4}}, Fill},
    {"_Z6matmulPKfS0_Pfi", {{0, 8}, {8, 8}, {16, 8}, {24, 4}}, Matmul},
    {"empty", {}, Empty},
};

}  // namespace

const FakeKernel* FindFakeKernel(const char* name) {
  for (const FakeKernel& k : kKernels) {
    if (std::strcmp(k.name, name) == 0) return &k;
  }
  return nullptr;
}

}  // namespace accel::fake_cuda
