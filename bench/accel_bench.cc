// accel-bench: the pool's data plane against raw baselines measured in the
// same run on this machine.
//
//   accel-bench [--short] [--repeats 3] [--round-trips-only] [--tls]
//
// --tls: the pool serves TLS with a certificate of a private CA made for the
// run (scripts/make-ca.sh), its bulk channel included, and the baselines are
// TLS too: an OpenSSL socket on loopback moving the same bytes, and a raw
// gRPC ping-pong over TLS. Copies are also measured without the bulk
// channel (in the encrypted gRPC session) and against the same pool in
// plaintext, in the run.
//
// Baselines: raw gRPC on loopback moving the same bytes in the same 1 MiB
// messages with no accelpool logic (a sink/source Node service, best-tuned:
// the settings of pool/common/transport.h and malloc_tuning.h), a raw gRPC
// bidi ping-pong, raw loopback TCP with 1 MiB writes, memcpy, and the local
// host backend. The pool under test is a standalone poold started in this
// process on 127.0.0.1 (coordinator, node agent, sessions: all real).
// --short is the CI smoke run: small sizes, one repeat.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <grpcpp/grpcpp.h>
#include <openssl/ssl.h>

#include "absl/strings/str_cat.h"
#include "accel/client/lease.h"
#include "accel/hal/hal.h"
#include "bench/in_process_pool.h"
#include "bench/measure.h"
#include "pool/common/malloc_tuning.h"
#include "pool/common/mutex_tuning.h"
#include "pool/common/tls.h"
#include "pool/common/transport.h"
#include "pool/common/version.h"
#include "pool/common/wire.h"

namespace {

namespace hal = accel::hal;
using accel::bench::Server;
using accel::bench::StartServer;
namespace v1 = ::accelpool::v1;
using Clock = std::chrono::steady_clock;

using accel::bench::Best;
using accel::bench::Check;

// The raw baseline: a Node service that only moves bytes. Upload: the client
// streams CopyToDevice messages, the server counts them and answers once.
// Download: the client asks once, the server streams CopyData messages.
class RawService final : public v1::Node::Service {
 public:
  grpc::Status Session(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::SessionResponse, v1::SessionRequest>* stream) override {
    v1::SessionRequest request;
    while (stream->Read(&request)) {
      for (const v1::Command& c : request.commands()) {
        if (c.stream().has_copy_to_host()) {  // download of src.size bytes
          std::string chunk(accel::pool::kCopyChunkBytes, 'x');
          for (uint64_t sent = 0; sent < c.stream().copy_to_host().src().size();
               sent += chunk.size()) {
            v1::SessionResponse r;
            r.add_events()->mutable_copy_data()->set_data(chunk);
            stream->Write(r);
          }
        }
        if (c.reply_id() != 0) {
          v1::SessionResponse r;
          r.add_events()->mutable_reply()->set_reply_id(c.reply_id());
          stream->Write(r);
        }
      }
    }
    return grpc::Status::OK;
  }
};

// How the raw baselines reach their server: plaintext, or TLS (--tls).
std::shared_ptr<grpc::ChannelCredentials>& RawCredentials() {
  static std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  return credentials;
}

// A Node stub on a channel with the pool's bulk settings.
std::unique_ptr<v1::Node::Stub> RawStub(const std::string& address) {
  grpc::ChannelArguments args;
  accel::pool::ApplyBulkTransferSettings(args);
  return v1::Node::NewStub(grpc::CreateCustomChannel(address, RawCredentials(), args));
}

double RawUpload(const std::string& address, uint64_t bytes, int repeats) {
  auto stub = RawStub(address);
  std::string chunk(accel::pool::kCopyChunkBytes, 'y');
  return Best(repeats, [&] {
    grpc::ClientContext context;
    auto stream = stub->Session(&context);
    // Batches of four 1 MiB commands, as the client writes them.
    for (uint64_t sent = 0; sent < bytes;) {
      v1::SessionRequest request;
      for (int i = 0; i < 4 && sent < bytes; ++i, sent += chunk.size()) {
        request.add_commands()->mutable_stream()->mutable_copy_to_device()->set_data(chunk);
      }
      stream->Write(request);
    }
    v1::SessionRequest done;
    done.add_commands()->set_reply_id(1);
    stream->Write(done);
    v1::SessionResponse reply;
    stream->Read(&reply);
    stream->WritesDone();
    stream->Finish().IgnoreError();
  });
}

double RawDownload(const std::string& address, uint64_t bytes, int repeats) {
  auto stub = RawStub(address);
  std::vector<char> sink(bytes);
  return Best(repeats, [&] {
    grpc::ClientContext context;
    auto stream = stub->Session(&context);
    v1::SessionRequest request;
    v1::Command* c = request.add_commands();
    c->set_reply_id(1);
    c->mutable_stream()->mutable_copy_to_host()->mutable_src()->set_size(bytes);
    stream->Write(request);
    v1::SessionResponse r;
    uint64_t offset = 0;
    while (stream->Read(&r)) {
      bool done = false;
      for (const v1::SessionEvent& e : r.events()) {
        if (e.has_copy_data()) {  // the same copy-out the client does
          std::memcpy(sink.data() + offset, e.copy_data().data().data(),
                      e.copy_data().data().size());
          offset += e.copy_data().data().size();
        }
        done |= e.has_reply();
      }
      if (done) break;
    }
    stream->WritesDone();
    stream->Finish().IgnoreError();
  });
}

// Synchronous round trips over one raw gRPC bidi stream: one request, one
// answer, the shape of a remote synchronize without accelpool's logic.
double RawPingPong(const std::string& address, int n, int repeats) {
  auto stub = RawStub(address);
  grpc::ClientContext context;
  auto stream = stub->Session(&context);
  double best = Best(repeats, [&] {
    for (int i = 0; i < n; ++i) {
      v1::SessionRequest request;
      request.add_commands()->set_reply_id(i + 1);
      v1::SessionResponse reply;
      if (!stream->Write(request) || !stream->Read(&reply)) {
        Check(absl::UnavailableError("ping-pong stream broke"), "raw ping-pong");
      }
    }
  });
  stream->WritesDone();
  stream->Finish().IgnoreError();
  return best / n * 1e6;
}

// A listening socket on a free loopback port, its address in `address`.
int LoopbackListener(sockaddr_in& address, socklen_t& length) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  length = sizeof(address);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    Check(absl::InternalError("cannot open a loopback socket"), "raw socket baseline");
  }
  return listener;
}

// The ceiling: plain TCP on loopback. Moves `bytes` from `src` into `dst` in
// 1 MiB writes into a reading thread: the same bytes a remote copy moves,
// between memory of the same size. (Sending one cache-resident 1 MiB chunk
// over and over into another would measure the kernel's copies between
// caches, not a copy of this size.)
double RawTcp(const std::byte* src, std::byte* dst, uint64_t bytes, int repeats) {
  sockaddr_in address;
  socklen_t length;
  int listener = LoopbackListener(address, length);
  const uint64_t chunk = accel::pool::kCopyChunkBytes;
  double best = Best(repeats, [&] {
    int sender = socket(AF_INET, SOCK_STREAM, 0);
    std::thread receiver([&] {
      int peer = accept(listener, nullptr, nullptr);
      for (uint64_t got = 0; got < bytes;) {
        ssize_t n = recv(peer, dst + got, std::min<uint64_t>(chunk, bytes - got), 0);
        if (n <= 0) break;
        got += static_cast<uint64_t>(n);
      }
      close(peer);
    });
    if (connect(sender, reinterpret_cast<sockaddr*>(&address), length) != 0) {
      Check(absl::InternalError("cannot connect on loopback"), "raw tcp");
    }
    for (uint64_t sent = 0; sent < bytes;) {
      ssize_t n = send(sender, src + sent, std::min<uint64_t>(chunk, bytes - sent), 0);
      if (n <= 0) break;
      sent += static_cast<uint64_t>(n);
    }
    receiver.join();
    close(sender);
  });
  close(listener);
  return best;
}

// The ceiling under TLS: an OpenSSL connection on loopback moving `bytes`
// from `src` into `dst` in 1 MiB writes, with the same kind of key and
// certificate as the pool's.
double RawTls(const std::byte* src, std::byte* dst, uint64_t bytes, int repeats,
              const accel::pool::TlsFiles& server) {
  SSL_CTX* server_ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
  if (SSL_CTX_use_certificate_chain_file(server_ctx, server.cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(server_ctx, server.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_load_verify_locations(client_ctx, server.ca.c_str(), nullptr) != 1) {
    Check(absl::InternalError("cannot load the benchmark's TLS files"), "raw tls");
  }
  SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, nullptr);
  sockaddr_in address;
  socklen_t length;
  int listener = LoopbackListener(address, length);
  const int chunk = static_cast<int>(accel::pool::kCopyChunkBytes);
  double best = Best(repeats, [&] {
    int sender = socket(AF_INET, SOCK_STREAM, 0);
    std::thread receiver([&] {
      int peer = accept(listener, nullptr, nullptr);
      SSL* ssl = SSL_new(server_ctx);
      SSL_set_fd(ssl, peer);
      if (SSL_accept(ssl) == 1) {
        for (uint64_t got = 0; got < bytes;) {
          int n =
              SSL_read(ssl, dst + got, static_cast<int>(std::min<uint64_t>(chunk, bytes - got)));
          if (n <= 0) break;
          got += static_cast<uint64_t>(n);
        }
      }
      SSL_free(ssl);
      close(peer);
    });
    if (connect(sender, reinterpret_cast<sockaddr*>(&address), length) != 0) {
      Check(absl::InternalError("cannot connect on loopback"), "raw tls");
    }
    SSL* ssl = SSL_new(client_ctx);
    SSL_set_fd(ssl, sender);
    SSL_set_tlsext_host_name(ssl, "localhost");
    if (SSL_connect(ssl) != 1) Check(absl::InternalError("TLS handshake failed"), "raw tls");
    for (uint64_t sent = 0; sent < bytes;) {
      int n = SSL_write(ssl, src + sent, static_cast<int>(std::min<uint64_t>(chunk, bytes - sent)));
      if (n <= 0) break;
      sent += static_cast<uint64_t>(n);
    }
    receiver.join();
    SSL_free(ssl);
    close(sender);
  });
  close(listener);
  SSL_CTX_free(server_ctx);
  SSL_CTX_free(client_ctx);
  return best;
}

double Rate(uint64_t bytes, double seconds) { return static_cast<double>(bytes) / seconds / 1e9; }

}  // namespace

int main(int argc, char** argv) {
  bool short_run = false;
  bool round_trips_only = false;  // for profiling the synchronous path
  bool tls = false;
  int repeats = 3;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--short") == 0) short_run = true;
    if (std::strcmp(argv[i], "--round-trips-only") == 0) round_trips_only = true;
    if (std::strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) repeats = std::atoi(argv[++i]);
    if (std::strcmp(argv[i], "--tls") == 0) tls = true;
  }
  if (short_run) repeats = 1;
  const std::vector<uint64_t> sizes_mib =
      short_run || round_trips_only ? std::vector<uint64_t>{8} : std::vector<uint64_t>{64, 256};
  const uint64_t max_bytes = sizes_mib.back() << 20;
  const int launch_count = short_run || round_trips_only ? 200 : 20000;
  const int round_trip_count = short_run ? 50 : round_trips_only ? 50000 : 2000;
  accel::pool::TuneMallocForBulkTransfers();     // as poold and the client SDK do
  accel::pool::DisableMutexDeadlockDetection();  // as poold and its workers do

  // Under --tls: a private CA and a certificate for 127.0.0.1, made now.
  accel::pool::TlsFiles server_tls;
  if (tls) {
    char dir[] = "/tmp/accel-bench-pki-XXXXXX";
    if (mkdtemp(dir) == nullptr ||
        std::system(absl::StrCat("bash ", ACCEL_BENCH_MAKE_CA, " ", dir, " bench").c_str()) != 0) {
      Check(absl::InternalError("scripts/make-ca.sh failed (is openssl installed?)"), "pki");
    }
    server_tls = {"", absl::StrCat(dir, "/bench.pem"), absl::StrCat(dir, "/bench.key")};
    auto credentials = accel::pool::ClientCredentials({absl::StrCat(dir, "/ca.pem"), "", ""});
    Check(credentials.status(), "tls credentials");
    RawCredentials() = *credentials;
  }
  const std::string ca =
      tls ? server_tls.cert.substr(0, server_tls.cert.rfind('/')) + "/ca.pem" : "";

  // The pool, in process: standalone poold on the host backend.
  // Under --tls, a second device for the in-band lease below.
  auto pool =
      accel::bench::InProcessPool::Start(tls ? 2 : 1, (sizes_mib.back() * 2) << 20, server_tls);
  Check(pool.status(), "pool");
  const hal::Device local = (*pool)->local_devices().at(0);
  accel::client::LeaseRequest request;
  request.tls_ca = ca;
  auto lease = accel::client::AcquireLease((*pool)->address(), request);
  Check(lease.status(), "lease");
  const hal::Device remote = (*lease)->devices()[0];
  // Under --tls, the same pool in plaintext (with its bulk channel), to
  // show what encryption costs the copies; and a TLS lease without the bulk
  // channel, its copies in the encrypted gRPC session, to show which of the
  // two encrypted paths is faster.
  std::unique_ptr<accel::bench::InProcessPool> plain_pool;
  std::unique_ptr<accel::client::Lease> plain_lease;
  std::unique_ptr<accel::client::Lease> in_band_lease;
  if (tls) {
    setenv("ACCEL_POOL_BULK", "off", 1);
    auto in_band = accel::client::AcquireLease((*pool)->address(), request);
    unsetenv("ACCEL_POOL_BULK");
    Check(in_band.status(), "in-band lease");
    in_band_lease = *std::move(in_band);
    auto started = accel::bench::InProcessPool::Start(1, (sizes_mib.back() * 2) << 20);
    Check(started.status(), "plaintext pool");
    plain_pool = *std::move(started);
    auto leased = accel::client::AcquireLease(plain_pool->address(), {});
    Check(leased.status(), "plaintext lease");
    plain_lease = *std::move(leased);
  }

  RawService raw_service;
  Server raw = StartServer(
      {&raw_service}, tls ? *accel::pool::ServerCredentials({"", server_tls.cert, server_tls.key})
                          : grpc::InsecureServerCredentials());

  std::printf("accel-bench: best of %d, loopback on this machine; ratio = accelpool / baseline\n",
              repeats);
  std::printf("%-44s %9s %9s %7s %8s\n", "throughput (GB/s)", "accelpool", "baseline", "ratio",
              "target");
  auto row = [](const std::string& what, double ours, double base, const char* target) {
    std::printf("%-44s %9.2f %9.2f %7.2f %8s\n", what.c_str(), ours, base, ours / base, target);
  };
  std::vector<std::byte> host(max_bytes), back(max_bytes);
  // One untimed pass of every baseline first: the first run of each pays
  // for faulting in its buffers, which would flatter accelpool's ratios.
  RawUpload(raw.address, max_bytes, 1);
  RawDownload(raw.address, max_bytes, 1);
  RawTcp(host.data(), back.data(), max_bytes, 1);
  const accel::pool::TlsFiles raw_tls{ca, server_tls.cert, server_tls.key};
  if (tls) RawTls(host.data(), back.data(), max_bytes, 1, raw_tls);
  for (uint64_t mib : sizes_mib) {
    const uint64_t bytes = mib << 20;
    const double raw_up = Rate(bytes, RawUpload(raw.address, bytes, repeats));
    const double raw_down = Rate(bytes, RawDownload(raw.address, bytes, repeats));
    // Under --tls the socket baseline is TLS too.
    const double raw_tcp =
        Rate(bytes, tls ? RawTls(host.data(), back.data(), bytes, repeats, raw_tls)
                        : RawTcp(host.data(), back.data(), bytes, repeats));
    const char* socket_name = tls ? "raw TLS" : "raw TCP";
    const double memcpy_rate =
        Rate(bytes, Best(repeats, [&] { std::memcpy(back.data(), host.data(), bytes); }));
    auto transfer = [&](const hal::Device& d, bool up) {
      absl::StatusOr<hal::Buffer> b = d.Allocate(bytes);
      Check(b.status(), "allocate");
      const auto in = absl::MakeConstSpan(host).first(bytes);
      const auto out = absl::MakeSpan(back).first(bytes);
      Check(d.CopyToDevice(in, *b), "warm up");
      return Rate(bytes, Best(repeats, [&] {
                    Check(up ? d.CopyToDevice(in, *b) : d.CopyToHost(*b, out), "copy");
                  }));
    };
    const double local_up = transfer(local, true), local_down = transfer(local, false);
    const double remote_up = transfer(remote, true), remote_down = transfer(remote, false);
    const std::string size = absl::StrCat(mib, " MiB");
    row(absl::StrCat("upload ", size, ": remote / raw gRPC stream"), remote_up, raw_up, ">=0.90");
    row(absl::StrCat("download ", size, ": remote / raw gRPC stream"), remote_down, raw_down,
        ">=0.90");
    row(absl::StrCat("upload ", size, ": remote / ", socket_name), remote_up, raw_tcp, ">=0.70");
    row(absl::StrCat("download ", size, ": remote / ", socket_name), remote_down, raw_tcp,
        ">=0.70");
    if (in_band_lease != nullptr) {
      const hal::Device& in_band = in_band_lease->devices()[0];
      const double in_band_up = transfer(in_band, true), in_band_down = transfer(in_band, false);
      row(absl::StrCat("upload ", size, ": TLS in band / ", socket_name), in_band_up, raw_tcp, "-");
      row(absl::StrCat("download ", size, ": TLS in band / ", socket_name), in_band_down, raw_tcp,
          "-");
    }
    if (plain_lease != nullptr) {
      const hal::Device& plain = plain_lease->devices()[0];
      const double plain_up = transfer(plain, true), plain_down = transfer(plain, false);
      row(absl::StrCat("upload ", size, ": TLS remote / plaintext remote"), remote_up, plain_up,
          "-");
      row(absl::StrCat("download ", size, ": TLS remote / plaintext remote"), remote_down,
          plain_down, "-");
    }
    row(absl::StrCat("upload ", size, ": local host backend / memcpy"), local_up, memcpy_rate, "-");
    row(absl::StrCat("download ", size, ": local host backend / memcpy"), local_down, memcpy_rate,
        "-");
  }

  // Launches: empty kernels queued, then one synchronization.
  auto bundle = hal::ModuleBundle::ReadFile(ACCEL_BENCH_KERNEL_BUNDLE);
  Check(bundle.status(), "bundle");
  auto launches_per_second = [&](const hal::Device& d) {
    auto module = d.LoadModule(*bundle);
    Check(module.status(), "module");
    auto kernel = module->GetKernel("empty");
    Check(kernel.status(), "kernel");
    auto stream = d.CreateStream();
    Check(stream.status(), "stream");
    return launch_count / Best(repeats, [&] {
             for (int i = 0; i < launch_count; ++i) {
               Check(stream->Launch(*kernel, {{1, 1, 1}, {1, 1, 1}, 0}, {}), "launch");
             }
             Check(stream->Synchronize(), "sync");
           });
  };
  const double local_launches = launches_per_second(local);
  const double remote_launches = launches_per_second(remote);
  auto stream = remote.CreateStream();
  Check(stream.status(), "stream");
  const double remote_rtt = Best(repeats,
                                 [&] {
                                   for (int i = 0; i < round_trip_count; ++i) {
                                     Check(stream->Synchronize(), "sync");
                                   }
                                 }) /
                            round_trip_count * 1e6;
  const double raw_rtt = RawPingPong(raw.address, round_trip_count, repeats);

  std::printf("%-44s %9s %9s %7s %8s\n", "launches (per second)", "accelpool", "baseline", "ratio",
              "target");
  std::printf("%-44s %9.0f %9.0f %7.2f %8s\n", "pipelined empty launch: remote / local host",
              remote_launches, local_launches, remote_launches / local_launches, ">=250k/s");
  std::printf("%-44s %9s %9s %7s %8s\n", "round trip (us)", "accelpool", "baseline", "ratio",
              "target");
  std::printf("%-44s %9.1f %9.1f %7.2f %8s\n",
              tls ? "stream synchronize: remote / TLS gRPC ping-pong"
                  : "stream synchronize: remote / gRPC ping-pong",
              remote_rtt, raw_rtt, remote_rtt / raw_rtt, "<=1.30");
  return 0;
}
