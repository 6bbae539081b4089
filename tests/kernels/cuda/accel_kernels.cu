// The accelpool kernel set, CUDA edition: the twin of host/accel_kernels.c,
// with the same names, parameters and semantics. Built to PTX (runs on every
// supported GPU via the driver's JIT) and to a cubin for sm_90 (H100), and
// packed into the kernel bundle next to the host-elf image; the bundle takes
// the argument signatures from the host image, so a change of parameters
// must be made in both files.
//
// Conventions: extern "C" so the driver finds the kernels by their plain
// names; indices are 64-bit so large grids cannot overflow; all dynamic
// shared memory is one extern array, cast per kernel.
#include <stdint.h>

extern __shared__ unsigned char accel_dynamic_shared[];

__device__ __forceinline__ uint64_t GlobalX() {
  return static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

// fill(out: f32[n], value, n)
extern "C" __global__ void fill(float* out, float value, uint32_t n) {
  uint64_t i = GlobalX();
  if (i < n) out[i] = value;
}

// vector_add(a, b, c: f32[n], n): c = a + b
extern "C" __global__ void vector_add(const float* a, const float* b, float* c, uint32_t n) {
  uint64_t i = GlobalX();
  if (i < n) c[i] = a[i] + b[i];
}

// saxpy(x, y: f32[n], a, n): y = a * x + y
extern "C" __global__ void saxpy(const float* x, float* y, float a, uint32_t n) {
  uint64_t i = GlobalX();
  if (i < n) y[i] = a * x[i] + y[i];
}

// sgemm(A: f32[M*K], B: f32[K*N], C: f32[M*N], M, N, K, alpha, beta),
// row-major: C = alpha * A B + beta * C. One thread per element of C: x over
// columns, y over rows.
extern "C" __global__ void sgemm(const float* A, const float* B, float* C, uint32_t M, uint32_t N,
                                 uint32_t K, float alpha, float beta) {
  uint64_t col = GlobalX();
  uint64_t row = static_cast<uint64_t>(blockIdx.y) * blockDim.y + threadIdx.y;
  if (row >= M || col >= N) return;
  float sum = 0.0f;
  for (uint32_t k = 0; k < K; ++k) sum += A[row * K + k] * B[static_cast<uint64_t>(k) * N + col];
  C[row * N + col] = alpha * sum + beta * C[row * N + col];
}

// reduce_sum(in: f32[n], partial: f32[gridDim.x], n): partial[b] is the sum of
// the elements block b visits in a grid-stride loop. Needs blockDim.x floats
// of dynamic shared memory; any block size works (not only powers of two).
extern "C" __global__ void reduce_sum(const float* in, float* partial, uint32_t n) {
  float* shared = reinterpret_cast<float*>(accel_dynamic_shared);
  const uint32_t tid = threadIdx.x;
  const uint64_t stride = static_cast<uint64_t>(gridDim.x) * blockDim.x;
  float sum = 0.0f;
  for (uint64_t i = GlobalX(); i < n; i += stride) sum += in[i];
  shared[tid] = sum;
  __syncthreads();
  uint32_t half = 1;
  while (half * 2 < blockDim.x) half *= 2;  // largest power of two below blockDim.x
  for (; half > 0; half /= 2) {
    if (tid < half && tid + half < blockDim.x) shared[tid] += shared[tid + half];
    __syncthreads();
  }
  if (tid == 0) partial[blockIdx.x] = shared[0];
}

// affine_u32(x: u32[n], a, b, n): x = x * a + b. Not commutative, so a chain
// of launches proves stream ordering.
extern "C" __global__ void affine_u32(uint32_t* x, uint32_t a, uint32_t b, uint32_t n) {
  uint64_t i = GlobalX();
  if (i < n) x[i] = x[i] * a + b;
}

// A global variable of the module, {1, 2, 3, 4} when loaded: the
// conformance suite reads and writes it through Module::GetGlobal, and runs
// affine_u32 on it.
extern "C" __device__ uint32_t accel_global_table[4] = {1, 2, 3, 4};

// The raw-bytes argument of arg_probe: CUDA needs a fixed parameter size, and
// the conformance suite passes a 16-byte struct.
struct AccelProbeBytes {
  unsigned char bytes[16];
};

__device__ void CopyBytes(unsigned char* out, const void* in, int n) {
  const unsigned char* p = static_cast<const unsigned char*>(in);
  for (int i = 0; i < n; ++i) out[i] = p[i];
}

// arg_probe(out, i32, u32, i64, u64, f32, f64, bytes): writes each argument
// into out at 8-byte slots 0..5, then the raw bytes from slot 6 on.
extern "C" __global__ void arg_probe(unsigned char* out, int32_t i32, uint32_t u32, int64_t i64,
                                     uint64_t u64, float f32, double f64, AccelProbeBytes raw) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  CopyBytes(out + 0, &i32, 4);
  CopyBytes(out + 8, &u32, 4);
  CopyBytes(out + 16, &i64, 8);
  CopyBytes(out + 24, &u64, 8);
  CopyBytes(out + 32, &f32, 4);
  CopyBytes(out + 40, &f64, 8);
  CopyBytes(out + 48, raw.bytes, sizeof(raw.bytes));
}

// index_probe(out: u32[total threads]): every thread of a 3-D launch adds
// 1 + its global linear index to its own slot.
extern "C" __global__ void index_probe(uint32_t* out) {
  uint64_t gx = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  uint64_t gy = static_cast<uint64_t>(blockIdx.y) * blockDim.y + threadIdx.y;
  uint64_t gz = static_cast<uint64_t>(blockIdx.z) * blockDim.z + threadIdx.z;
  uint64_t id = (gz * (static_cast<uint64_t>(gridDim.y) * blockDim.y) + gy) *
                    (static_cast<uint64_t>(gridDim.x) * blockDim.x) +
                gx;
  out[id] += static_cast<uint32_t>(id + 1);
}

// shared_probe(out: u32[blocks * blockDim.x]): each thread writes its index to
// shared memory; after the barrier thread t reads its neighbour's slot.
extern "C" __global__ void shared_probe(uint32_t* out) {
  uint32_t* shared = reinterpret_cast<uint32_t*>(accel_dynamic_shared);
  const uint32_t n = blockDim.x, t = threadIdx.x;
  shared[t] = t * 10 + 1;
  __syncthreads();
  out[static_cast<uint64_t>(blockIdx.x) * n + t] = shared[(t + 1) % n];
}

// fail_with(code): fails the launch when code != 0. A GPU kernel cannot
// return a status, so it traps: the launch fails with CUDA_ERROR_LAUNCH_FAILED
// (INTERNAL), not with `code`, and, as every kernel fault in CUDA, the trap
// leaves the whole context unusable until it is reset.
extern "C" __global__ void fail_with(uint32_t code) {
  if (code != 0) __trap();
}

// spin(microseconds): busy-waits in block 0 on the GPU's global nanosecond
// timer, for timing and asynchrony tests.
extern "C" __global__ void spin(uint64_t microseconds) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  uint64_t start = 0, now = 0;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  const uint64_t wait_ns = microseconds * 1000;
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < wait_ns);
}

// empty(): does nothing; measures launch overhead.
extern "C" __global__ void empty() {}
