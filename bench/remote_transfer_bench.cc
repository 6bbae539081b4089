// Remote transfer and launch benchmark: the pool's data plane against raw
// baselines measured in the same run on this machine.
//
//   remote_transfer_bench [--mib 256] [--repeats 3]
//
// Baselines: raw gRPC on loopback moving the same bytes in the same 1 MiB
// messages with no accelpool logic (a sink/source Node service), and the
// local host backend. The pool under test is a standalone poold started in
// this process on 127.0.0.1 (coordinator, node agent, sessions: all real).
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

#include "absl/strings/str_cat.h"
#include "accel/client/lease.h"
#include "accel/hal/hal.h"
#include "pool/common/transport.h"
#include "pool/common/version.h"
#include "pool/common/wire.h"
#include "pool/coordinator/coordinator.h"
#include "pool/coordinator/coordinator_service.h"
#include "pool/node/node_agent.h"
#include "pool/node/node_service.h"

namespace {

namespace hal = accel::hal;
namespace v1 = ::accelpool::v1;
using Clock = std::chrono::steady_clock;

// Best of `repeats` runs of `body`, in seconds.
double Best(int repeats, const std::function<void()>& body) {
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    auto start = Clock::now();
    body();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return best;
}

void Check(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "remote_transfer_bench: %s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

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
        if (c.has_copy_to_host()) {  // download of src.size bytes
          std::string chunk(accel::pool::kCopyChunkBytes, 'x');
          for (uint64_t sent = 0; sent < c.copy_to_host().src().size(); sent += chunk.size()) {
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

struct Server {
  std::unique_ptr<grpc::Server> server;
  std::string address;
};

Server StartServer(std::vector<grpc::Service*> services) {
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  for (grpc::Service* s : services) builder.RegisterService(s);
  accel::pool::ApplyBulkTransferSettings(builder);
  Server out;
  out.server = builder.BuildAndStart();
  out.address = absl::StrCat("127.0.0.1:", port);
  return out;
}

double RawUpload(const std::string& address, uint64_t bytes, int repeats) {
  grpc::ChannelArguments args;
  accel::pool::ApplyBulkTransferSettings(args);
  auto stub = v1::Node::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  std::string chunk(accel::pool::kCopyChunkBytes, 'y');
  return Best(repeats, [&] {
    grpc::ClientContext context;
    auto stream = stub->Session(&context);
    // Batches of four 1 MiB commands, as the client writes them.
    for (uint64_t sent = 0; sent < bytes;) {
      v1::SessionRequest request;
      for (int i = 0; i < 4 && sent < bytes; ++i, sent += chunk.size()) {
        request.add_commands()->mutable_copy_to_device()->set_data(chunk);
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
  grpc::ChannelArguments args;
  accel::pool::ApplyBulkTransferSettings(args);
  auto stub = v1::Node::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  std::vector<char> sink(bytes);
  return Best(repeats, [&] {
    grpc::ClientContext context;
    auto stream = stub->Session(&context);
    v1::SessionRequest request;
    v1::Command* c = request.add_commands();
    c->set_reply_id(1);
    c->mutable_copy_to_host()->mutable_src()->set_size(bytes);
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

// The ceiling: plain TCP on loopback, 1 MiB writes into a reading thread.
double RawTcp(uint64_t bytes, int repeats) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    Check(absl::InternalError("cannot open a loopback socket"), "raw tcp");
  }
  std::vector<char> chunk(accel::pool::kCopyChunkBytes, 'z');
  double best = Best(repeats, [&] {
    int sender = socket(AF_INET, SOCK_STREAM, 0);
    std::thread receiver([&] {
      int peer = accept(listener, nullptr, nullptr);
      std::vector<char> in(chunk.size());
      for (uint64_t got = 0; got < bytes;) {
        ssize_t n = recv(peer, in.data(), in.size(), 0);
        if (n <= 0) break;
        got += static_cast<uint64_t>(n);
      }
      close(peer);
    });
    if (connect(sender, reinterpret_cast<sockaddr*>(&address), length) != 0) {
      Check(absl::InternalError("cannot connect on loopback"), "raw tcp");
    }
    for (uint64_t sent = 0; sent < bytes;) {
      ssize_t n = send(sender, chunk.data(), std::min<uint64_t>(chunk.size(), bytes - sent), 0);
      if (n <= 0) break;
      sent += static_cast<uint64_t>(n);
    }
    receiver.join();
    close(sender);
  });
  close(listener);
  return best;
}

double Rate(uint64_t bytes, double seconds) { return static_cast<double>(bytes) / seconds / 1e9; }

}  // namespace

int main(int argc, char** argv) {
  uint64_t mib = 256;
  int repeats = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--mib") == 0) mib = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--repeats") == 0) repeats = std::atoi(argv[i + 1]);
  }
  const uint64_t bytes = mib << 20;

  // Raw baselines.
  RawService raw_service;
  Server raw = StartServer({&raw_service});
  const double raw_up = RawUpload(raw.address, bytes, repeats);
  const double raw_down = RawDownload(raw.address, bytes, repeats);
  const double raw_tcp = RawTcp(bytes, repeats);
  std::vector<std::byte> host(bytes), back(bytes);
  const double memcpy_s = Best(repeats, [&] { std::memcpy(back.data(), host.data(), bytes); });

  // The pool, in process: standalone poold on the host backend.
  hal::RegistryOptions registry_options;
  registry_options.only = {"host"};
  registry_options.backend_options["host"] = {{"devices", "1"},
                                              {"device_memory", absl::StrCat(mib * 2, "MiB")}};
  auto registry = hal::Registry::Create(registry_options);
  Check(registry.status(), "registry");
  const hal::Device local = (*registry)->Devices().at(0);
  accel::pool::Coordinator coordinator({});
  accel::pool::NodeAgent::Options node_options;
  node_options.name = "bench";
  node_options.allow_host_kernels = true;
  accel::pool::NodeAgent agent(node_options, {local}, coordinator);
  accel::pool::CoordinatorService coordinator_service(coordinator);
  accel::pool::NodeService node_service(agent);
  Server pool = StartServer({&coordinator_service, &node_service});
  coordinator.AddNode("bench", pool.address, {}, agent.DeviceInfos(), &agent);

  auto lease = accel::client::AcquireLease(pool.address, {});
  Check(lease.status(), "lease");
  const hal::Device remote = (*lease)->devices()[0];

  auto transfer = [&](const hal::Device& d, bool up) {
    absl::StatusOr<hal::Buffer> b = d.Allocate(bytes);
    Check(b.status(), "allocate");
    Check(d.CopyToDevice(host, *b), "warm up");
    return Best(repeats, [&] {
      Check(up ? d.CopyToDevice(host, *b) : d.CopyToHost(*b, absl::MakeSpan(back)), "copy");
    });
  };
  const double local_up = transfer(local, true), local_down = transfer(local, false);
  const double remote_up = transfer(remote, true), remote_down = transfer(remote, false);

  // Launches: 2000 empty kernels queued, then one synchronization.
  auto bundle = hal::ModuleBundle::ReadFile(ACCEL_BENCH_KERNEL_BUNDLE);
  Check(bundle.status(), "bundle");
  auto launches = [&](const hal::Device& d) {
    auto module = d.LoadModule(*bundle);
    Check(module.status(), "module");
    auto kernel = module->GetKernel("empty");
    auto stream = d.CreateStream();
    Check(stream.status(), "stream");
    const int n = 2000;
    return Best(repeats,
                [&] {
                  for (int i = 0; i < n; ++i) {
                    Check(stream->Launch(*kernel, {{1, 1, 1}, {1, 1, 1}, 0}, {}), "launch");
                  }
                  Check(stream->Synchronize(), "sync");
                }) /
           n * 1e6;
  };
  const double local_launch = launches(local), remote_launch = launches(remote);
  auto round_trips = [&](const hal::Device& d) {
    auto stream = d.CreateStream();
    Check(stream.status(), "stream");
    const int n = 500;
    return Best(repeats,
                [&] {
                  for (int i = 0; i < n; ++i) Check(stream->Synchronize(), "sync");
                }) /
           n * 1e6;
  };
  const double remote_rtt = round_trips(remote);

  std::printf("accelpool remote data plane, %llu MiB, best of %d, loopback on this machine\n",
              static_cast<unsigned long long>(mib), repeats);
  // ratio = accelpool's rate / the baseline's rate (1.00 = as fast).
  std::printf("%-38s %8s %9s %7s\n", "", "GB/s", "baseline", "ratio");
  std::printf("%-38s %8.2f %9.2f %7.2f\n", "upload: remote vs raw gRPC", Rate(bytes, remote_up),
              Rate(bytes, raw_up), raw_up / remote_up);
  std::printf("%-38s %8.2f %9.2f %7.2f\n", "download: remote vs raw gRPC", Rate(bytes, remote_down),
              Rate(bytes, raw_down), raw_down / remote_down);
  std::printf("%-38s %8.2f %9.2f %7.2f\n", "upload: remote vs raw TCP", Rate(bytes, remote_up),
              Rate(bytes, raw_tcp), raw_tcp / remote_up);
  std::printf("%-38s %8.2f %9.2f %7.2f\n", "download: remote vs raw TCP", Rate(bytes, remote_down),
              Rate(bytes, raw_tcp), raw_tcp / remote_down);
  std::printf("%-38s %8.2f %9.2f %7.2f\n", "upload: local host backend vs memcpy",
              Rate(bytes, local_up), Rate(bytes, memcpy_s), memcpy_s / local_up);
  std::printf("%-38s %8.2f %9.2f %7.2f\n", "download: local host backend vs memcpy",
              Rate(bytes, local_down), Rate(bytes, memcpy_s), memcpy_s / local_down);
  std::printf("%-38s %8s %9s %7s\n", "", "us/op", "baseline", "ratio");
  std::printf("%-38s %8.2f %9.2f %7.2f\n", "pipelined launch: remote vs local", remote_launch,
              local_launch, remote_launch / local_launch);
  std::printf("%-38s %8.2f %9s %7s\n", "synchronize round trip: remote", remote_rtt, "-", "-");
  return 0;
}
