// The bulk channel under TLS: the handshake authenticates the node (and a
// client certificate, when presented) and gives both ends the same keys; a
// sealed chunk that is altered, replayed, dropped or oversized is refused;
// a socket's keys carry over to another process's copy of it (the worker's);
// and the node's listener completes TLS handshakes side by side, so silent
// connections do not keep a real client out.
#include "pool/common/bulk_tls.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "pool/common/bulk_socket.h"
#include "pool/common/sealed_chunks.h"
#include "pool/node/bulk_listener.h"
#include "tests/common/scoped_temp_dir.h"
#include "tests/common/status_matchers.h"
#include "tests/pool/poold_process.h"

namespace accel::testing {
namespace {

using pool::BulkSocket;
using pool::BulkTlsServer;
using pool::ChannelKeys;
using pool::ChunkCipher;
using pool::SealKey;

constexpr int kTimeoutMs = 5000;

SealKey Key(char fill) { return {std::string(32, fill), std::string(12, fill), 0}; }

// A sealed chunk of `text` under `key`, as it goes on the wire.
std::string Sealed(SealKey& key, const std::string& text) {
  auto cipher = ChunkCipher::Create(key, ChunkCipher::Direction::kSeal);
  EXPECT_OK(cipher.status());
  std::string out(text.size() + pool::kSealedHeaderBytes + pool::kSealTagBytes, '\0');
  EXPECT_OK((*cipher)->Seal(text.data(), text.size(), out.data()));
  key.sequence = (*cipher)->sequence();
  return out;
}

// A reader sealed with `receive`, and the raw descriptor that feeds it.
std::pair<std::unique_ptr<BulkSocket>, int> SealedReader(const SealKey& receive) {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  auto reader = std::make_unique<BulkSocket>(fds[0]);
  EXPECT_OK(reader->Seal({Key('s'), receive}));
  return {std::move(reader), fds[1]};
}

void WriteRaw(int fd, const std::string& bytes) {
  ASSERT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
}

TEST(SealedChunksTest, ReadsOfEverySizeGetTheBytesWritten) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  BulkSocket a(fds[0]), b(fds[1]);
  ASSERT_OK(a.Seal({Key('a'), Key('b')}));
  ASSERT_OK(b.Seal({Key('b'), Key('a')}));
  std::string data(3 * pool::kMaxSealedChunk + 12345, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 251);
  // Written in pieces that straddle chunks; read in others: smaller than a
  // chunk (the rest is kept), larger (in place), and across boundaries.
  std::thread writer([&] {
    const size_t pieces[] = {1, 24, pool::kMaxSealedChunk, pool::kMaxSealedChunk + 1};
    size_t at = 0;
    for (size_t i = 0; at < data.size(); ++i) {
      const size_t n = std::min(pieces[i % 4], data.size() - at);
      EXPECT_OK(a.WriteAll(data.data() + at, n));
      at += n;
    }
  });
  std::string got(data.size(), '\0');
  const size_t reads[] = {7, 100000, 3, pool::kMaxSealedChunk, 1};
  size_t at = 0;
  for (size_t i = 0; at < got.size(); ++i) {
    const size_t n = std::min(reads[i % 5], got.size() - at);
    ASSERT_OK(b.ReadExact(got.data() + at, n));
    at += n;
  }
  writer.join();
  EXPECT_EQ(got, data);
}

TEST(SealedChunksTest, TheWireCarriesNoPlaintext) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  BulkSocket a(fds[0]);
  ASSERT_OK(a.Seal({Key('a'), Key('b')}));
  const std::string secret = "SECRET-LEDGER-ROW-SECRET-LEDGER-ROW";
  ASSERT_OK(a.WriteAll(secret.data(), secret.size()));
  std::string wire(secret.size() + pool::kSealedHeaderBytes + pool::kSealTagBytes, '\0');
  ASSERT_EQ(read(fds[1], wire.data(), wire.size()), static_cast<ssize_t>(wire.size()));
  EXPECT_EQ(wire.find("SECRET"), std::string::npos);
  close(fds[1]);
}

TEST(SealedChunksTest, AnAlteredChunkFailsToOpen) {
  SealKey writer = Key('w');
  std::string chunk = Sealed(writer, "the balance is 100");
  chunk[pool::kSealedHeaderBytes + 16] ^= 1;  // "1" becomes "0": same length
  auto [reader, feed] = SealedReader(Key('w'));
  WriteRaw(feed, chunk);
  char got[18];
  EXPECT_STATUS(reader->ReadExact(got, sizeof(got)), kDataLoss);
  close(feed);
}

TEST(SealedChunksTest, AReplayedOrDroppedChunkFailsToOpen) {
  SealKey writer = Key('w');
  const std::string first = Sealed(writer, "pay 10");
  const std::string second = Sealed(writer, "pay 20");
  {
    auto [reader, feed] = SealedReader(Key('w'));
    WriteRaw(feed, first + first);  // the same chunk again
    char got[6];
    ASSERT_OK(reader->ReadExact(got, 6));
    EXPECT_EQ(std::string(got, 6), "pay 10");
    EXPECT_STATUS(reader->ReadExact(got, 6), kDataLoss);
    close(feed);
  }
  {
    auto [reader, feed] = SealedReader(Key('w'));
    WriteRaw(feed, second);  // the first never arrives
    char got[6];
    EXPECT_STATUS(reader->ReadExact(got, 6), kDataLoss);
    close(feed);
  }
}

TEST(SealedChunksTest, AnOversizedOrEmptyChunkIsRefusedBeforeItsBytesAreRead) {
  for (uint32_t length : {0u, static_cast<uint32_t>(pool::kMaxSealedChunk + 1), 0xffffffffu}) {
    auto [reader, feed] = SealedReader(Key('w'));
    std::string header(4, '\0');
    for (int i = 0; i < 4; ++i) header[i] = static_cast<char>(length >> (8 * i));
    WriteRaw(feed, header);
    char got[8];
    absl::Status read = reader->ReadExact(got, sizeof(got), kTimeoutMs);
    EXPECT_STATUS(read, kDataLoss) << length;
    close(feed);
  }
  EXPECT_STATUS(ChunkCipher::Create({std::string(16, 'k'), std::string(12, 'i'), 0},
                                    ChunkCipher::Direction::kSeal),
                kInvalidArgument);
}

// Both ends move to the next key every so many chunks, by counting: a
// reader that did not would fail at the first chunk under the new key, and
// a direction handed over mid-way goes on with the key then current.
TEST(SealedChunksTest, BothEndsMoveToTheNextKeyTogether) {
  constexpr uint64_t kEvery = 3;
  auto sealer = ChunkCipher::Create(Key('k'), ChunkCipher::Direction::kSeal, kEvery);
  auto opener = ChunkCipher::Create(Key('k'), ChunkCipher::Direction::kOpen, kEvery);
  auto stale = ChunkCipher::Create(Key('k'), ChunkCipher::Direction::kOpen, kEvery + 1);
  ASSERT_OK(sealer.status());
  ASSERT_OK(opener.status());
  ASSERT_OK(stale.status());
  for (uint64_t i = 0; i < 10; ++i) {
    if (i == 5) {  // the sealing side moves to another process
      const SealKey handed = (*sealer)->current();
      EXPECT_NE(handed.key, Key('k').key);  // already past one change
      EXPECT_EQ(handed.sequence, 5u);
      sealer = ChunkCipher::Create(handed, ChunkCipher::Direction::kSeal, kEvery);
      ASSERT_OK(sealer.status());
    }
    const std::string text = absl::StrCat("chunk ", i);
    std::string out(text.size() + pool::kSealedHeaderBytes + pool::kSealTagBytes, '\0');
    ASSERT_OK((*sealer)->Seal(text.data(), text.size(), out.data()));
    std::string copy = out;
    char* data = out.data() + pool::kSealedHeaderBytes;
    ASSERT_OK((*opener)->Open(out.data(), data, text.size(), data + text.size()));
    EXPECT_EQ(std::string(data, text.size()), text);
    if (i < kEvery) {
      char* stale_data = copy.data() + pool::kSealedHeaderBytes;
      ASSERT_OK((*stale)->Open(copy.data(), stale_data, text.size(), stale_data + text.size()));
    } else if (i == kEvery) {
      char* stale_data = copy.data() + pool::kSealedHeaderBytes;
      EXPECT_STATUS((*stale)->Open(copy.data(), stale_data, text.size(), stale_data + text.size()),
                    kDataLoss);
    }
  }
}

// The node opens the key chunk, then hands the socket to the worker: the
// worker's copy goes on where the node's left off.
TEST(SealedChunksTest, KeysCarryOverToAnotherCopyOfTheSocket) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  BulkSocket client(fds[0]);
  ASSERT_OK(client.Seal({Key('c'), Key('n')}));
  auto node = std::make_unique<BulkSocket>(fds[1]);
  ASSERT_OK(node->Seal({Key('n'), Key('c')}));
  ASSERT_OK(client.WriteAll("key!", 4));
  char key[4];
  ASSERT_OK(node->ReadExact(key, 4));
  std::optional<ChannelKeys> keys = node->keys();
  ASSERT_TRUE(keys.has_value());
  EXPECT_EQ(keys->receive.sequence, 1u);
  EXPECT_EQ(keys->send.sequence, 0u);
  BulkSocket worker(dup(fds[1]));
  node.reset();
  ASSERT_OK(worker.Seal(*keys));
  ASSERT_OK(client.WriteAll("data", 4));
  ASSERT_OK(worker.WriteAll("ack", 3));
  char got[4];
  ASSERT_OK(worker.ReadExact(got, 4));
  EXPECT_EQ(std::string(got, 4), "data");
  ASSERT_OK(client.ReadExact(got, 3));
  EXPECT_EQ(std::string(got, 3), "ack");
}

class BulkTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    ASSERT_OK(MakeCa("pki", {"node", "client"}));
    ASSERT_OK(MakeCa("other", {"node", "client"}));
    ASSERT_OK(MakeCa("pki", {"far"}, "ACCEL_CA_HOSTS=elsewhere.example"));
  }

  absl::Status MakeCa(const std::string& sub, const std::vector<std::string>& names,
                      const std::string& env = "ACCEL_CA_DAYS=30") {
    std::vector<std::string> args = {env, "bash", ACCEL_TEST_MAKE_CA, dir_.Path(sub)};
    args.insert(args.end(), names.begin(), names.end());
    absl::StatusOr<std::pair<int, std::string>> made = RunProgram("/usr/bin/env", args);
    if (!made.ok()) return made.status();
    if (made->first != 0) return absl::InternalError("make-ca.sh failed: " + made->second);
    return absl::OkStatus();
  }
  pool::TlsFiles Files(const std::string& sub, const std::string& name) {
    return {dir_.Path(sub + "/ca.pem"), dir_.Path(sub + "/" + name + ".pem"),
            dir_.Path(sub + "/" + name + ".key")};
  }

  ScopedTempDir dir_;
};

// A listener on 127.0.0.1 that keeps every attached socket; its one valid
// key is "k" repeated.
struct Listener {
  absl::Mutex mu;
  std::vector<std::unique_ptr<BulkSocket>> attached ABSL_GUARDED_BY(mu);
  std::unique_ptr<pool::BulkListener> listener;
  const std::string key = std::string(pool::kBulkKeyBytes, 'k');

  absl::Status Start(std::unique_ptr<BulkTlsServer> tls) {
    absl::StatusOr<std::unique_ptr<pool::BulkListener>> started = pool::BulkListener::Start(
        "127.0.0.1", 0, std::move(tls),
        [this](const std::string& k, std::unique_ptr<BulkSocket>& socket) {
          if (k != key) return false;
          // Kept before the client hears the answer, so it finds it here.
          absl::MutexLock lock(&mu);
          const char yes = 1;
          EXPECT_OK(socket->WriteAll(&yes, 1));
          attached.push_back(std::move(socket));
          return true;
        });
    if (!started.ok()) return started.status();
    listener = *std::move(started);
    return absl::OkStatus();
  }
};

// What the client SDK does: connect, TLS, the sealed key, the answer.
absl::StatusOr<std::unique_ptr<BulkSocket>> Attach(uint16_t port, const pool::TlsFiles& files,
                                                   const std::string& key) {
  const std::string host = "127.0.0.1";
  absl::StatusOr<std::unique_ptr<BulkSocket>> socket = BulkSocket::Connect(host, port, kTimeoutMs);
  if (!socket.ok()) return socket.status();
  absl::StatusOr<ChannelKeys> keys = pool::BulkTlsConnect((*socket)->fd(), host, files, kTimeoutMs);
  if (!keys.ok()) return keys.status();
  if (absl::Status s = (*socket)->Seal(*keys); !s.ok()) return s;
  if (absl::Status s = (*socket)->WriteAll(key.data(), key.size()); !s.ok()) return s;
  char answer = 0;
  if (absl::Status s = (*socket)->ReadExact(&answer, 1, kTimeoutMs); !s.ok()) return s;
  if (answer != 1) return absl::PermissionDeniedError("the node refused the key");
  return socket;
}

TEST_F(BulkTlsTest, AClientOfThePoolsCaAttachesAndBothEndsShareKeys) {
  ASSERT_OK_AND_ASSIGN(auto tls, BulkTlsServer::Create(Files("pki", "node")));
  Listener node;
  ASSERT_OK(node.Start(std::move(tls)));
  const pool::TlsFiles client{dir_.Path("pki/ca.pem"), "", ""};
  ASSERT_OK_AND_ASSIGN(auto socket, Attach(node.listener->port(), client, node.key));
  std::unique_ptr<BulkSocket> served;
  {
    absl::MutexLock lock(&node.mu);
    ASSERT_EQ(node.attached.size(), 1u);
    served = std::move(node.attached[0]);
  }
  const std::string data(300000, 'd');
  std::thread writer([&] { EXPECT_OK(socket->WriteAll(data.data(), data.size())); });
  std::string got(data.size(), '\0');
  ASSERT_OK(served->ReadExact(got.data(), got.size()));
  writer.join();
  EXPECT_EQ(got, data);
  ASSERT_OK(served->WriteAll("back", 4));
  char back[4];
  ASSERT_OK(socket->ReadExact(back, 4));
  EXPECT_EQ(std::string(back, 4), "back");
  // A wrong key over good TLS is refused, and a client certificate of the
  // pool's CA is accepted (the listener verifies it against --tls_client_ca).
  EXPECT_STATUS(Attach(node.listener->port(), client, std::string(pool::kBulkKeyBytes, 'x')),
                kPermissionDenied);
  EXPECT_OK(Attach(node.listener->port(), Files("pki", "client"), node.key).status());
}

TEST_F(BulkTlsTest, AClientWithAnotherCaOrForAnotherHostSendsNothing) {
  ASSERT_OK_AND_ASSIGN(auto tls, BulkTlsServer::Create(Files("pki", "node")));
  Listener node;
  ASSERT_OK(node.Start(std::move(tls)));
  auto refused_for_the_certificate = [&](uint16_t port, const std::string& ca) {
    absl::StatusOr<std::unique_ptr<BulkSocket>> s = Attach(port, {ca, "", ""}, node.key);
    EXPECT_STATUS(s, kUnavailable);
    EXPECT_TRUE(absl::StrContains(s.status().message(), "certificate")) << s.status();
  };
  refused_for_the_certificate(node.listener->port(), dir_.Path("other/ca.pem"));
  // A node whose certificate is of the right CA but for another host.
  ASSERT_OK_AND_ASSIGN(auto far_tls, BulkTlsServer::Create(Files("pki", "far")));
  Listener far;
  ASSERT_OK(far.Start(std::move(far_tls)));
  refused_for_the_certificate(far.listener->port(), dir_.Path("pki/ca.pem"));
  absl::MutexLock lock(&node.mu), far_lock(&far.mu);
  EXPECT_TRUE(node.attached.empty());
  EXPECT_TRUE(far.attached.empty());
}

TEST_F(BulkTlsTest, AClientCertificateOfAnotherCaIsRefused) {
  ASSERT_OK_AND_ASSIGN(auto tls, BulkTlsServer::Create(Files("pki", "node")));
  Listener node;
  ASSERT_OK(node.Start(std::move(tls)));
  pool::TlsFiles forged = Files("other", "client");
  forged.ca = dir_.Path("pki/ca.pem");  // trusts the node, presents a stranger's certificate
  EXPECT_FALSE(Attach(node.listener->port(), forged, node.key).ok());
  absl::MutexLock lock(&node.mu);
  EXPECT_TRUE(node.attached.empty());
}

TEST_F(BulkTlsTest, SilentAndHalfDoneHandshakesDoNotKeepARealClientOut) {
  ASSERT_OK_AND_ASSIGN(auto tls, BulkTlsServer::Create(Files("pki", "node")));
  Listener node;
  ASSERT_OK(node.Start(std::move(tls)));
  const pool::TlsFiles client{dir_.Path("pki/ca.pem"), "", ""};
  // 200 connections that never speak, and 20 that finish TLS and then say
  // nothing: more than the listener keeps at once.
  std::vector<std::unique_ptr<BulkSocket>> silent;
  for (int i = 0; i < 200; ++i) {
    ASSERT_OK_AND_ASSIGN(auto s, BulkSocket::Connect("127.0.0.1", node.listener->port(), 2000));
    silent.push_back(std::move(s));
  }
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK_AND_ASSIGN(auto s, BulkSocket::Connect("127.0.0.1", node.listener->port(), 2000));
    ASSERT_OK(pool::BulkTlsConnect(s->fd(), "127.0.0.1", client, kTimeoutMs).status());
    silent.push_back(std::move(s));
  }
  const auto start = std::chrono::steady_clock::now();
  ASSERT_OK(Attach(node.listener->port(), client, node.key).status());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
}

TEST_F(BulkTlsTest, AServerThatNeverAnswersTimesOut) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  socklen_t length = sizeof(address);
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  ASSERT_OK_AND_ASSIGN(auto s, BulkSocket::Connect("127.0.0.1", ntohs(address.sin_port), 2000));
  absl::StatusOr<ChannelKeys> keys =
      pool::BulkTlsConnect(s->fd(), "127.0.0.1", {dir_.Path("pki/ca.pem"), "", ""}, 300);
  EXPECT_STATUS(keys, kUnavailable);
  EXPECT_TRUE(absl::StrContains(keys.status().message(), "no answer")) << keys.status();
  close(listener);
}

// A renewed certificate (here: of another CA) serves new handshakes within
// about a second, as the gRPC server's does; attached sockets carry on.
TEST_F(BulkTlsTest, ARenewedCertificateServesNewHandshakes) {
  ASSERT_OK(MakeCa("live", {"node"}));
  ASSERT_OK_AND_ASSIGN(auto tls, BulkTlsServer::Create(Files("live", "node")));
  Listener node;
  ASSERT_OK(node.Start(std::move(tls)));
  ASSERT_OK_AND_ASSIGN(auto before,
                       Attach(node.listener->port(), {dir_.Path("live/ca.pem"), "", ""}, node.key));
  for (const char* part : {"node.pem", "node.key", "ca.pem"}) {
    std::ifstream in(dir_.Path(std::string("other/") + part), std::ios::binary);
    std::ofstream(dir_.Path(std::string("live/") + part), std::ios::binary) << in.rdbuf();
  }
  const pool::TlsFiles renewed_ca{dir_.Path("other/ca.pem"), "", ""};
  bool renewed = false;
  for (int i = 0; i < 40 && !renewed; ++i) {  // at most 4 s
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    renewed = Attach(node.listener->port(), renewed_ca, node.key).ok();
  }
  EXPECT_TRUE(renewed) << "the renewed certificate never served";
  std::unique_ptr<BulkSocket> served;
  {
    absl::MutexLock lock(&node.mu);
    served = std::move(node.attached.front());
  }
  ASSERT_OK(served->WriteAll("still", 5));
  char got[5];
  ASSERT_OK(before->ReadExact(got, 5, kTimeoutMs));
  EXPECT_EQ(std::string(got, 5), "still");
}

TEST_F(BulkTlsTest, ServerFilesAreCheckedAtStart) {
  pool::TlsFiles mismatched = Files("pki", "node");
  mismatched.key = dir_.Path("pki/client.key");
  EXPECT_STATUS(BulkTlsServer::Create(mismatched), kInvalidArgument);
  EXPECT_STATUS(
      BulkTlsServer::Create({"", dir_.Path("pki/missing.pem"), dir_.Path("pki/node.key")}),
      kInvalidArgument);
}

}  // namespace
}  // namespace accel::testing
