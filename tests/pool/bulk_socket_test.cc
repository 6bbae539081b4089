// The bulk channel's socket, plaintext and sealed: frames round-trip, a
// closed peer or a shutdown fails reads and writes with UNAVAILABLE instead
// of hanging, and concurrent frames never interleave.
#include "pool/common/bulk_socket.h"

#include <sys/socket.h>

#include <future>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/common/status_matchers.h"

namespace accel::testing {
namespace {

using pool::BulkFrameHeader;
using pool::BulkSocket;

// Two connected sockets; sealed ones as two ends of a TLS handshake would
// key them.
std::pair<std::unique_ptr<BulkSocket>, std::unique_ptr<BulkSocket>> SocketPair(bool sealed) {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  auto a = std::make_unique<BulkSocket>(fds[0]);
  auto b = std::make_unique<BulkSocket>(fds[1]);
  if (sealed) {
    const pool::SealKey one{std::string(32, 'k'), std::string(12, 'i'), 0};
    const pool::SealKey two{std::string(32, 'K'), std::string(12, 'I'), 0};
    EXPECT_OK(a->Seal({one, two}));
    EXPECT_OK(b->Seal({two, one}));
  }
  return {std::move(a), std::move(b)};
}

class BulkSocketTest : public ::testing::TestWithParam<bool> {
 protected:
  auto Pair() { return SocketPair(GetParam()); }
};
INSTANTIATE_TEST_SUITE_P(PlaintextAndSealed, BulkSocketTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Sealed" : "Plaintext"; });

TEST_P(BulkSocketTest, FramesRoundTrip) {
  auto [a, b] = Pair();
  std::vector<char> data(100000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31);
  std::thread writer([&, &a = a] {
    EXPECT_OK(a->WriteFrame({0x0102030405060708ull, 1ull << 40, data.size()}, data.data()));
  });
  ASSERT_OK_AND_ASSIGN(BulkFrameHeader header, b->ReadFrameHeader());
  EXPECT_EQ(header.reply_id, 0x0102030405060708ull);
  EXPECT_EQ(header.offset, 1ull << 40);
  ASSERT_EQ(header.length, data.size());
  std::vector<char> got(data.size());
  ASSERT_OK(b->ReadExact(got.data(), got.size()));
  EXPECT_EQ(got, data);
  writer.join();
}

TEST_P(BulkSocketTest, ConcurrentFramesDoNotInterleave) {
  auto [a, b] = Pair();
  constexpr int kThreads = 4, kFrames = 50;
  constexpr size_t kBytes = 64 << 10;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t, &a = a] {
      std::vector<char> data(kBytes, static_cast<char>('a' + t));
      for (int f = 0; f < kFrames; ++f) {
        EXPECT_OK(a->WriteFrame({static_cast<uint64_t>(t), 0, kBytes}, data.data()));
      }
    });
  }
  std::vector<char> got(kBytes);
  for (int i = 0; i < kThreads * kFrames; ++i) {
    ASSERT_OK_AND_ASSIGN(BulkFrameHeader header, b->ReadFrameHeader());
    ASSERT_LT(header.reply_id, static_cast<uint64_t>(kThreads));
    ASSERT_EQ(header.length, kBytes);
    ASSERT_OK(b->ReadExact(got.data(), got.size()));
    EXPECT_EQ(got, std::vector<char>(kBytes, static_cast<char>('a' + header.reply_id)));
  }
  for (std::thread& w : writers) w.join();
}

TEST_P(BulkSocketTest, ClosedPeerIsUnavailable) {
  auto [a, b] = Pair();
  char byte = 1;
  ASSERT_OK(a->WriteAll(&byte, 1));
  a.reset();
  char got[2];
  EXPECT_STATUS(b->ReadExact(got, 2), kUnavailable);  // one byte came, then the end
  EXPECT_STATUS(b->WriteAll(got, 1), kUnavailable);   // and never SIGPIPE
}

TEST_P(BulkSocketTest, ShutdownWakesABlockedReader) {
  auto [a, b] = Pair();
  auto read = std::async(std::launch::async, [&b = b] {
    char got[16];
    return b->ReadExact(got, sizeof(got));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  b->Shutdown();
  ASSERT_EQ(read.wait_for(std::chrono::seconds(10)), std::future_status::ready) << "hang";
  EXPECT_STATUS(read.get(), kUnavailable);
}

TEST(BulkSocketConnectTest, ConnectToAClosedPortFailsClearly) {
  absl::StatusOr<std::unique_ptr<BulkSocket>> s = BulkSocket::Connect("127.0.0.1", 1, 2000);
  EXPECT_STATUS(s, kUnavailable);
  EXPECT_EQ(pool::HostOfAddress("[::1]:7070"), "::1");
  EXPECT_EQ(pool::HostOfAddress("10.0.0.2:7070"), "10.0.0.2");
}

}  // namespace
}  // namespace accel::testing
