// Kernel launches: the kernel set's results, every argument kind, 3-D shapes,
// shared memory, and the bad launches.
#include <cmath>
#include <cstring>
#include <vector>

#include "tests/conformance/fixture.h"

namespace accel::conformance {
namespace {

class LaunchTest : public ConformanceTest {
 protected:
  template <typename T>
  absl::StatusOr<hal::Buffer> Upload(const std::vector<T>& data) {
    absl::StatusOr<hal::Buffer> b = device_.Allocate(data.size() * sizeof(T));
    if (!b.ok()) return b;
    absl::Status s = device_.CopyToDevice(hal::AsBytes(absl::MakeConstSpan(data)), *b);
    if (!s.ok()) return s;
    return b;
  }
  template <typename T>
  std::vector<T> Download(const hal::Buffer& b) {
    std::vector<T> out(b.size() / sizeof(T));
    absl::Status s = device_.CopyToHost(b, hal::AsWritableBytes(absl::MakeSpan(out)));
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }
  hal::LaunchConfig Linear(uint64_t n, uint32_t block = 256) {
    return {{Blocks(n, block), 1, 1}, {block, 1, 1}, 0};
  }
  absl::Status LaunchSync(const hal::Kernel& k, const hal::LaunchConfig& c,
                          std::initializer_list<hal::KernelArg> args) {
    absl::StatusOr<hal::Stream> s = device_.CreateStream();
    if (!s.ok()) return s.status();
    absl::Status launched = s->Launch(k, c, args);
    if (!launched.ok()) return launched;
    return s->Synchronize();
  }
};

TEST_P(LaunchTest, Fill) {
  const uint32_t n = 10007;
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(n * 4));
  ASSERT_OK(LaunchSync(KernelNamed("fill"), Linear(n), {b, 2.25f, n}));
  for (float v : Download<float>(b)) ASSERT_EQ(v, 2.25f);
}

TEST_P(LaunchTest, VectorAdd) {
  const uint32_t n = 5000;
  std::vector<float> a(n), b(n);
  for (uint32_t i = 0; i < n; ++i) {
    a[i] = static_cast<float>(i);
    b[i] = 0.5f * static_cast<float>(i) + 1;
  }
  ASSERT_OK_AND_ASSIGN(hal::Buffer da, Upload(a));
  ASSERT_OK_AND_ASSIGN(hal::Buffer db, Upload(b));
  ASSERT_OK_AND_ASSIGN(hal::Buffer dc, device_.Allocate(n * 4));
  ASSERT_OK(LaunchSync(KernelNamed("vector_add"), Linear(n), {da, db, dc, n}));
  std::vector<float> c = Download<float>(dc);
  for (uint32_t i = 0; i < n; ++i) ASSERT_EQ(c[i], a[i] + b[i]) << i;
}

TEST_P(LaunchTest, SaxpyOnSubviews) {
  const uint32_t n = 1000;
  std::vector<float> x(n + 8, 1.0f), y(n + 8, 2.0f);
  for (uint32_t i = 0; i < n + 8; ++i) x[i] = static_cast<float>(i);
  ASSERT_OK_AND_ASSIGN(hal::Buffer dx, Upload(x));
  ASSERT_OK_AND_ASSIGN(hal::Buffer dy, Upload(y));
  // Operate on elements [4, 4 + n) only, through views with offsets.
  ASSERT_OK_AND_ASSIGN(hal::BufferView vx, dx.View(16, n * 4));
  ASSERT_OK_AND_ASSIGN(hal::BufferView vy, dy.View(16, n * 4));
  ASSERT_OK(LaunchSync(KernelNamed("saxpy"), Linear(n, 128), {vx, vy, 3.0f, n}));
  std::vector<float> out = Download<float>(dy);
  for (uint32_t i = 0; i < n + 8; ++i) {
    float expected = (i >= 4 && i < n + 4) ? 3.0f * x[i] + 2.0f : 2.0f;
    ASSERT_EQ(out[i], expected) << i;
  }
}

TEST_P(LaunchTest, SgemmMatchesReference) {
  const uint32_t M = 67, N = 45, K = 33;
  std::vector<float> A(M * K), B(K * N), C(M * N);
  for (uint32_t i = 0; i < M * K; ++i) A[i] = static_cast<float>((i * 7) % 13) - 6;
  for (uint32_t i = 0; i < K * N; ++i) B[i] = static_cast<float>((i * 5) % 11) - 5;
  for (uint32_t i = 0; i < M * N; ++i) C[i] = static_cast<float>(i % 3);
  ASSERT_OK_AND_ASSIGN(hal::Buffer dA, Upload(A));
  ASSERT_OK_AND_ASSIGN(hal::Buffer dB, Upload(B));
  ASSERT_OK_AND_ASSIGN(hal::Buffer dC, Upload(C));
  const float alpha = 1.5f, beta = -0.5f;
  hal::LaunchConfig config{{Blocks(N, 16), Blocks(M, 16), 1}, {16, 16, 1}, 0};
  ASSERT_OK(LaunchSync(KernelNamed("sgemm"), config, {dA, dB, dC, M, N, K, alpha, beta}));
  std::vector<float> out = Download<float>(dC);
  for (uint32_t r = 0; r < M; ++r) {
    for (uint32_t c = 0; c < N; ++c) {
      float sum = 0;
      for (uint32_t k = 0; k < K; ++k) sum += A[r * K + k] * B[k * N + c];
      float expected = alpha * sum + beta * C[r * N + c];
      ASSERT_NEAR(out[r * N + c], expected, 1e-3f) << r << "," << c;
    }
  }
}

TEST_P(LaunchTest, ReduceSumOneBlockAndManyBlocks) {
  const uint32_t n = 100003;
  std::vector<float> in(n);
  double expected = 0;
  for (uint32_t i = 0; i < n; ++i) {
    in[i] = static_cast<float>(i % 17) * 0.25f;
    expected += in[i];
  }
  ASSERT_OK_AND_ASSIGN(hal::Buffer din, Upload(in));
  const uint32_t block = 256;
  for (uint32_t blocks : {1u, 7u, 64u}) {
    SCOPED_TRACE(blocks);
    ASSERT_OK_AND_ASSIGN(hal::Buffer partial, device_.Allocate(blocks * 4));
    hal::LaunchConfig config{{blocks, 1, 1}, {block, 1, 1}, block * sizeof(float)};
    ASSERT_OK(LaunchSync(KernelNamed("reduce_sum"), config, {din, partial, n}));
    double total = 0;
    for (float p : Download<float>(partial)) total += p;
    EXPECT_NEAR(total, expected, expected * 1e-5);
  }
}

TEST_P(LaunchTest, EveryArgumentKindArrivesIntact) {
  struct Raw {
    uint32_t a;
    uint16_t b;
    uint8_t c[10];
  } raw{0x01020304, 0xbeef, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}};
  ASSERT_OK_AND_ASSIGN(hal::Buffer out, device_.Allocate(128));
  ASSERT_OK(
      LaunchSync(KernelNamed("arg_probe"), {{1, 1, 1}, {1, 1, 1}, 0},
                 {out, int32_t{-123456}, uint32_t{0xfedcba98}, int64_t{-1234567890123},
                  uint64_t{0x1122334455667788}, 3.5f, -2.75e100, hal::KernelArg::BytesOf(raw)}));
  std::vector<std::byte> bytes = Download<std::byte>(out);
  auto read = [&](size_t offset, auto value) {
    std::memcpy(&value, bytes.data() + offset, sizeof(value));
    return value;
  };
  EXPECT_EQ(read(0, int32_t{}), -123456);
  EXPECT_EQ(read(8, uint32_t{}), 0xfedcba98u);
  EXPECT_EQ(read(16, int64_t{}), -1234567890123);
  EXPECT_EQ(read(24, uint64_t{}), 0x1122334455667788u);
  EXPECT_EQ(read(32, float{}), 3.5f);
  EXPECT_EQ(read(40, double{}), -2.75e100);
  EXPECT_EQ(std::memcmp(bytes.data() + 48, &raw, sizeof(raw)), 0);
}

TEST_P(LaunchTest, ThreeDimensionalGridRunsEveryThreadOnce) {
  const hal::Dim3 grid{3, 4, 2}, block{5, 2, 3};
  const uint64_t total = grid.Volume() * block.Volume();
  ASSERT_OK_AND_ASSIGN(hal::Buffer out, device_.Allocate(total * 4));
  ASSERT_OK(LaunchSync(KernelNamed("index_probe"), {grid, block, 0}, {out}));
  std::vector<uint32_t> ids = Download<uint32_t>(out);
  for (uint64_t i = 0; i < total; ++i) ASSERT_EQ(ids[i], i + 1) << i;
}

TEST_P(LaunchTest, DynamicSharedMemoryIsPerBlockWithBarrierSemantics) {
  const uint32_t blocks = 6, threads = 64;
  ASSERT_OK_AND_ASSIGN(hal::Buffer out, device_.Allocate(blocks * threads * 4));
  ASSERT_OK(LaunchSync(KernelNamed("shared_probe"), {{blocks, 1, 1}, {threads, 1, 1}, threads * 4},
                       {out}));
  std::vector<uint32_t> got = Download<uint32_t>(out);
  for (uint32_t b = 0; b < blocks; ++b) {
    for (uint32_t t = 0; t < threads; ++t) {
      ASSERT_EQ(got[b * threads + t], ((t + 1) % threads) * 10 + 1) << b << "," << t;
    }
  }
}

TEST_P(LaunchTest, KernelWithoutArguments) {
  ASSERT_OK(LaunchSync(KernelNamed("empty"), {{4, 1, 1}, {32, 1, 1}, 0}, {}));
}

TEST_P(LaunchTest, WrongArgumentCountIsInvalid) {
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(64));
  ASSERT_OK_AND_ASSIGN(hal::Stream s, device_.CreateStream());
  hal::Kernel fill = KernelNamed("fill");
  EXPECT_STATUS(s.Launch(fill, Linear(16), {b, 1.0f}), kInvalidArgument);
  EXPECT_STATUS(s.Launch(fill, Linear(16), {b, 1.0f, uint32_t{16}, uint32_t{0}}), kInvalidArgument);
  EXPECT_STATUS(s.Launch(fill, Linear(16), {}), kInvalidArgument);
  EXPECT_OK(s.Synchronize());
}

TEST_P(LaunchTest, WrongArgumentTypeIsInvalid) {
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(64));
  ASSERT_OK_AND_ASSIGN(hal::Stream s, device_.CreateStream());
  hal::Kernel fill = KernelNamed("fill");
  EXPECT_STATUS(s.Launch(fill, Linear(16), {b, 1.0, uint32_t{16}}), kInvalidArgument);  // f64
  EXPECT_STATUS(s.Launch(fill, Linear(16), {b, 1.0f, int32_t{16}}), kInvalidArgument);  // i32
  EXPECT_STATUS(s.Launch(fill, Linear(16), {1.0f, b, uint32_t{16}}), kInvalidArgument);
  EXPECT_STATUS(s.Launch(fill, Linear(16), {hal::KernelArg::BytesOf(1), 1.0f, uint32_t{16}}),
                kInvalidArgument);
  absl::Status s1 = s.Launch(fill, Linear(16), {b, 1.0f, uint64_t{16}});
  EXPECT_NE(s1.message().find("argument 2 must be u32"), std::string::npos) << s1;
  EXPECT_OK(s.Synchronize());
}

TEST_P(LaunchTest, ZeroOrOversizedShapesAreInvalid) {
  ASSERT_OK_AND_ASSIGN(hal::Stream s, device_.CreateStream());
  hal::Kernel empty = KernelNamed("empty");
  const hal::DeviceProperties& p = device_.properties();
  EXPECT_STATUS(s.Launch(empty, {{0, 1, 1}, {1, 1, 1}, 0}, {}), kInvalidArgument);
  EXPECT_STATUS(s.Launch(empty, {{1, 0, 1}, {1, 1, 1}, 0}, {}), kInvalidArgument);
  EXPECT_STATUS(s.Launch(empty, {{1, 1, 1}, {0, 1, 1}, 0}, {}), kInvalidArgument);
  EXPECT_STATUS(s.Launch(empty, {{1, 1, 1}, {1, 1, 0}, 0}, {}), kInvalidArgument);
  if (p.max_grid.y < UINT32_MAX) {
    EXPECT_STATUS(s.Launch(empty, {{1, p.max_grid.y + 1, 1}, {1, 1, 1}, 0}, {}), kInvalidArgument);
  }
  EXPECT_STATUS(s.Launch(empty, {{1, 1, 1}, {p.max_block.x + 1, 1, 1}, 0}, {}), kInvalidArgument);
  EXPECT_STATUS(s.Launch(empty, {{1, 1, 1}, {p.max_threads_per_block, 2, 1}, 0}, {}),
                kInvalidArgument);
  EXPECT_STATUS(s.Launch(empty, {{1, 1, 1}, {1, 1, 1}, p.max_shared_memory_per_block + 1}, {}),
                kInvalidArgument);
  EXPECT_OK(s.Synchronize());
}

TEST_P(LaunchTest, EmptyKernelHandleIsInvalid) {
  ASSERT_OK_AND_ASSIGN(hal::Stream s, device_.CreateStream());
  EXPECT_STATUS(s.Launch(hal::Kernel(), Linear(1), {}), kInvalidArgument);
}

TEST_P(LaunchTest, BufferOfAnotherDeviceIsInvalid) {
  std::optional<hal::Device> other = SecondDevice();
  if (!other) GTEST_SKIP() << GetParam() << " has one device; the check needs two";
  ASSERT_OK_AND_ASSIGN(hal::Buffer theirs, other->Allocate(64));
  ASSERT_OK_AND_ASSIGN(hal::Stream s, device_.CreateStream());
  EXPECT_STATUS(s.Launch(KernelNamed("fill"), Linear(16), {theirs, 1.0f, uint32_t{16}}),
                kInvalidArgument);
}

TEST_P(LaunchTest, KernelOfAnotherDeviceIsInvalid) {
  std::optional<hal::Device> other = SecondDevice();
  if (!other) GTEST_SKIP() << GetParam() << " has one device; the check needs two";
  ASSERT_OK_AND_ASSIGN(hal::Module theirs, other->LoadModule(bundle_));
  ASSERT_OK_AND_ASSIGN(hal::Kernel k, theirs.GetKernel("empty"));
  ASSERT_OK_AND_ASSIGN(hal::Stream s, device_.CreateStream());
  EXPECT_STATUS(s.Launch(k, Linear(1), {}), kInvalidArgument);
}

TEST_P(LaunchTest, LaunchOnTwoDevicesConcurrently) {
  std::optional<hal::Device> other = SecondDevice();
  if (!other) GTEST_SKIP() << GetParam() << " has one device; the check needs two";
  const uint32_t n = 4096;
  ASSERT_OK_AND_ASSIGN(hal::Module m2, other->LoadModule(bundle_));
  ASSERT_OK_AND_ASSIGN(hal::Kernel fill2, m2.GetKernel("fill"));
  ASSERT_OK_AND_ASSIGN(hal::Buffer b1, device_.Allocate(n * 4));
  ASSERT_OK_AND_ASSIGN(hal::Buffer b2, other->Allocate(n * 4));
  ASSERT_OK_AND_ASSIGN(hal::Stream s1, device_.CreateStream());
  ASSERT_OK_AND_ASSIGN(hal::Stream s2, other->CreateStream());
  ASSERT_OK(s1.Launch(KernelNamed("fill"), Linear(n), {b1, 1.0f, n}));
  ASSERT_OK(s2.Launch(fill2, Linear(n), {b2, 2.0f, n}));
  ASSERT_OK(s1.Synchronize());
  ASSERT_OK(s2.Synchronize());
  std::vector<float> out(n);
  ASSERT_OK(other->CopyToHost(b2, hal::AsWritableBytes(absl::MakeSpan(out))));
  for (float v : out) ASSERT_EQ(v, 2.0f);
}

TEST_P(LaunchTest, LargeGrid) {
  const uint32_t n = 1 << 22;
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, device_.Allocate(uint64_t{n} * 4));
  ASSERT_OK(LaunchSync(KernelNamed("fill"), Linear(n, 64), {b, 9.0f, n}));
  std::vector<float> out = Download<float>(b);
  EXPECT_EQ(out.front(), 9.0f);
  EXPECT_EQ(out.back(), 9.0f);
}

ACCEL_CONFORMANCE_SUITE(LaunchTest);

}  // namespace
}  // namespace accel::conformance
