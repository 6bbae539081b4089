// The accelpool kernel set, HIP edition (hsaco code objects for the rocm
// backend). Same names, argument order and semantics as host/accel_kernels.c.
//
// Built with plain clang (-x hip --cuda-device-only -nogpuinc -nogpulib), so
// it needs neither the HIP device headers nor the ROCm device libraries,
// which Debian 12 does not ship in a form clang finds by itself: the few
// things HIP's headers would provide (thread indices, block sizes, barriers,
// the wall clock) are written here with clang's AMDGPU builtins.

#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef int i32;
typedef unsigned long long u64;
typedef long long i64;

// --- The HIP built-in variables, from the AMDGPU intrinsics -----------------

// The HSA kernel dispatch packet the hardware gives every kernel: it holds
// the work-group size and the total grid size (in work-items). HIP's
// blockDim and gridDim come from it; gridDim = grid size / block size
// because hipModuleLaunchKernel sets the grid to blocks * block size.
struct DispatchPacket {
  u16 header;
  u16 setup;
  u16 workgroup_size[3];
  u16 reserved0;
  u32 grid_size[3];
};

static __device__ inline const DispatchPacket* Packet() {
  return static_cast<const DispatchPacket*>(__builtin_amdgcn_dispatch_ptr());
}
static __device__ inline u32 ThreadX() { return __builtin_amdgcn_workitem_id_x(); }
static __device__ inline u32 ThreadY() { return __builtin_amdgcn_workitem_id_y(); }
static __device__ inline u32 ThreadZ() { return __builtin_amdgcn_workitem_id_z(); }
static __device__ inline u32 BlockX() { return __builtin_amdgcn_workgroup_id_x(); }
static __device__ inline u32 BlockY() { return __builtin_amdgcn_workgroup_id_y(); }
static __device__ inline u32 BlockZ() { return __builtin_amdgcn_workgroup_id_z(); }
static __device__ inline u32 BlockDim(int d) { return Packet()->workgroup_size[d]; }
static __device__ inline u32 GridDim(int d) {
  return Packet()->grid_size[d] / Packet()->workgroup_size[d];
}

// __syncthreads(): the barrier plus work-group memory ordering around it.
static __device__ inline void SyncThreads() {
  __builtin_amdgcn_fence(__ATOMIC_RELEASE, "workgroup");
  __builtin_amdgcn_s_barrier();
  __builtin_amdgcn_fence(__ATOMIC_ACQUIRE, "workgroup");
}

// wall_clock64(): the constant-rate real-time counter. gfx11 dropped
// s_memrealtime for a message that returns the same counter.
static __device__ inline u64 WallClock() {
#if defined(__gfx1100__) || defined(__gfx1101__) || defined(__gfx1102__) || defined(__gfx1103__)
  u64 t;
  __asm__ volatile("s_sendmsg_rtn_b64 %0, sendmsg(MSG_RTN_GET_REALTIME)\n\ts_waitcnt lgkmcnt(0)"
                   : "=s"(t));
  return t;
#else
  return __builtin_amdgcn_s_memrealtime();
#endif
}
// The real-time counter runs at 100 MHz on the AMD GPUs HIP supports
// (hipDeviceAttributeWallClockRate reports 100000 kHz): 100 ticks per us.
constexpr u64 kWallClockTicksPerMicrosecond = 100;

static __device__ inline u64 GlobalX() { return u64{BlockX()} * BlockDim(0) + ThreadX(); }

// The block's dynamic shared memory (the launch's shared_memory_bytes).
extern __shared__ u32 dynamic_shared[];

// --- The kernels ---------------------------------------------------------------

// fill(out: f32[n], value, n)
extern "C" __global__ void fill(float* out, float value, u32 n) {
  u64 i = GlobalX();
  if (i < n) out[i] = value;
}

// vector_add(a, b, c: f32[n], n): c = a + b
extern "C" __global__ void vector_add(const float* a, const float* b, float* c, u32 n) {
  u64 i = GlobalX();
  if (i < n) c[i] = a[i] + b[i];
}

// saxpy(x, y: f32[n], a, n): y = a * x + y
extern "C" __global__ void saxpy(const float* x, float* y, float a, u32 n) {
  u64 i = GlobalX();
  if (i < n) y[i] = a * x[i] + y[i];
}

// sgemm(A: f32[M*K], B: f32[K*N], C: f32[M*N], M, N, K, alpha, beta), row-major:
// C = alpha * A B + beta * C. One thread per element: x over columns, y over rows.
extern "C" __global__ void sgemm(const float* A, const float* B, float* C, u32 M, u32 N, u32 K,
                                 float alpha, float beta) {
  u64 col = GlobalX();
  u64 row = u64{BlockY()} * BlockDim(1) + ThreadY();
  if (row >= M || col >= N) return;
  float sum = 0.0f;
  for (u32 k = 0; k < K; ++k) sum += A[row * K + k] * B[u64{k} * N + col];
  C[row * N + col] = alpha * sum + beta * C[row * N + col];
}

// reduce_sum(in: f32[n], partial: f32[gridDim.x], n): partial[b] is the sum of
// the elements block b visits in a grid-stride loop. Needs blockDim.x floats
// of dynamic shared memory.
extern "C" __global__ void reduce_sum(const float* in, float* partial, u32 n) {
  float* shared = reinterpret_cast<float*>(dynamic_shared);
  const u32 tx = ThreadX(), threads = BlockDim(0);
  const u64 stride = u64{GridDim(0)} * threads;
  float sum = 0.0f;
  for (u64 i = GlobalX(); i < n; i += stride) sum += in[i];
  shared[tx] = sum;
  SyncThreads();
  // Thread 0 combines in order, as the host version does, so results match
  // to the last bit for the same launch shape.
  if (tx == 0) {
    float total = 0.0f;
    for (u32 t = 0; t < threads; ++t) total += shared[t];
    partial[BlockX()] = total;
  }
}

// affine_u32(x: u32[n], a, b, n): x = x * a + b. Not commutative, so a chain
// of launches proves stream ordering.
extern "C" __global__ void affine_u32(u32* x, u32 a, u32 b, u32 n) {
  u64 i = GlobalX();
  if (i < n) x[i] = x[i] * a + b;
}

// A global variable of the module, {1, 2, 3, 4} when loaded: the
// conformance suite reads and writes it through Module::GetGlobal, and runs
// affine_u32 on it.
extern "C" __device__ u32 accel_global_table[4] = {1, 2, 3, 4};

// The raw-bytes argument of arg_probe: the 16-byte struct the conformance
// suite passes (a GPU kernel's by-value parameters have a fixed size).
struct ProbeBytes {
  u8 bytes[16];
};

// arg_probe(out, i32, u32, i64, u64, f32, f64, bytes): writes each argument
// into out at 8-byte slots 0..5, then the raw bytes from slot 6 on.
extern "C" __global__ void arg_probe(u8* out, i32 a, u32 b, i64 c, u64 d, float e, double f,
                                     ProbeBytes g) {
  if (BlockX() != 0 || ThreadX() != 0) return;
  __builtin_memcpy(out + 0, &a, 4);
  __builtin_memcpy(out + 8, &b, 4);
  __builtin_memcpy(out + 16, &c, 8);
  __builtin_memcpy(out + 24, &d, 8);
  __builtin_memcpy(out + 32, &e, 4);
  __builtin_memcpy(out + 40, &f, 8);
  __builtin_memcpy(out + 48, g.bytes, sizeof(g.bytes));
}

// index_probe(out: u32[total threads]): every thread of a 3-D launch adds
// 1 + its global linear index to its own slot.
extern "C" __global__ void index_probe(u32* out) {
  u64 gx = GlobalX();
  u64 gy = u64{BlockY()} * BlockDim(1) + ThreadY();
  u64 gz = u64{BlockZ()} * BlockDim(2) + ThreadZ();
  u64 width = u64{GridDim(0)} * BlockDim(0), height = u64{GridDim(1)} * BlockDim(1);
  u64 id = (gz * height + gy) * width + gx;
  out[id] += static_cast<u32>(id + 1);
}

// shared_probe(out: u32[blocks * blockDim.x]): each thread writes its index to
// shared memory; after the barrier thread t reads its neighbour's slot.
extern "C" __global__ void shared_probe(u32* out) {
  const u32 tx = ThreadX(), n = BlockDim(0);
  dynamic_shared[tx] = tx * 10 + 1;
  SyncThreads();
  out[u64{BlockX()} * n + tx] = dynamic_shared[(tx + 1) % n];
}

// fail_with(code): a no-op on ROCm, kept so the kernel set has the same names
// everywhere. The host version fails the launch when code != 0; a GPU kernel
// cannot return a status code, and the only way to fail is a trap. On ROCm a
// trap (s_trap) does not fail just the launch: the HSA runtime's queue error
// callback aborts the whole process, taking every tenant with it. The
// conformance tests that need a failing kernel are listed unsupported for
// rocm (tests/conformance/unsupported.cc), so nothing relies on it failing.
extern "C" __global__ void fail_with(u32 code) { (void)code; }

// spin(microseconds): busy-waits in block 0, for timing and asynchrony tests.
extern "C" __global__ void spin(u64 microseconds) {
  if (BlockX() != 0) return;
  const u64 start = WallClock();
  const u64 ticks = microseconds * kWallClockTicksPerMicrosecond;
  while (WallClock() - start < ticks) {
  }
}

// empty(): does nothing; measures launch overhead.
extern "C" __global__ void empty() {}
