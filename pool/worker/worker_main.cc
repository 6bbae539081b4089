// accel-session-worker: one lease's session, in a process of its own. The
// node (pool/node/session_process.h) starts it for every session, with the
// session link on descriptor 3 and the control link on descriptor 4 (see
// pool/proto/worker.proto), and kills it when the session ends. It opens its
// own HAL devices, so its device contexts and its address space belong to
// this one session: a kernel that faults or scribbles takes down only this
// process, and no stray pointer reaches another tenant's memory.
//
//   accel-session-worker --lease LEASE_ID    (the id is only for `ps`)
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "accel/hal/hal.h"
#include "pool/common/frame_socket.h"
#include "pool/common/malloc_tuning.h"
#include "pool/common/mutex_tuning.h"
#include "pool/common/sealed_chunks.h"
#include "pool/common/status_convert.h"
#include "pool/common/worker_wire.h"
#include "pool/worker/confine.h"
#include "pool/worker/launch_turns.h"
#include "pool/worker/sandbox.h"
#include "pool/worker/session.h"

namespace accel::pool {
namespace {

constexpr int kSessionFd = 3;
constexpr int kControlFd = 4;

// Responses go to the node, which relays them to the client.
class WorkerSessionLink : public SessionLink {
 public:
  explicit WorkerSessionLink(FrameSocket& socket) : socket_(socket) {}
  // A failed write means the node is gone, and it kills this worker.
  void Send(const v1::SessionResponse& response) override { socket_.Write(response).IgnoreError(); }
  void TrySend(const v1::SessionResponse& response) override { Send(response); }
  void Cut() override { socket_.Shutdown(); }

 private:
  FrameSocket& socket_;
};

struct Served {
  std::unique_ptr<hal::Registry> registry;
  Session::Config config;
};

absl::StatusOr<Served> OpenLease(const worker::v1::WorkerInit& init, NodeTurns& turns,
                                 std::vector<std::unique_ptr<LaunchTurns>>& device_turns) {
  hal::RegistryOptions options;
  std::set<std::string> backends;
  for (const worker::v1::WorkerInit::Device& d : init.devices()) {
    if (!d.id().empty()) backends.insert(d.id().substr(0, d.id().find(':')));
  }
  // Only what the lease uses: no other driver is loaded into this process.
  options.only.assign(backends.begin(), backends.end());
  if (options.only.empty()) options.only.push_back("host");
  for (const worker::v1::WorkerInit::BackendOption& o : init.backend_options()) {
    options.backend_options[o.backend()][o.key()] = o.value();
  }
  Served served;
  absl::StatusOr<std::unique_ptr<hal::Registry>> registry = hal::Registry::Create(options);
  if (!registry.ok()) return registry.status();
  served.registry = *std::move(registry);

  Session::Config& config = served.config;
  config.lease = init.lease();
  config.allow_host_kernels = init.allow_host_kernels();
  for (int i = 0; i < init.devices_size(); ++i) {
    const worker::v1::WorkerInit::Device& d = init.devices(i);
    config.quotas.push_back(d.quota());
    if (d.id().empty()) {  // on another node
      config.devices.emplace_back();
      config.turns.push_back(nullptr);
      continue;
    }
    absl::StatusOr<hal::Device> device = served.registry->GetDevice(d.id());
    if (!device.ok()) {
      return absl::Status(device.status().code(),
                          absl::StrCat("the session's worker cannot open ", d.id(), ": ",
                                       device.status().message()));
    }
    config.devices.push_back(*device);
    device_turns.push_back(d.shared() ? turns.Device(static_cast<uint32_t>(i)) : nullptr);
    config.turns.push_back(device_turns.back().get());
  }
  return served;
}

int Serve() {
  signal(SIGPIPE, SIG_IGN);
  // Bulk copies stage 8 MiB at a time: without this each stage faults in
  // fresh pages.
  TuneMallocForBulkTransfers();
  DisableMutexDeadlockDetection();
  if (!TieWorkerToNode().ok()) return 1;
  FrameSocket session_link(kSessionFd);
  FrameSocket control(kControlFd);
  worker::v1::WorkerInit init;
  if (absl::Status s = session_link.Read(init); !s.ok()) {
    std::fprintf(stderr, "accel-session-worker: %s\n", s.ToString().c_str());
    return 1;
  }
  auto refuse = [&](const absl::Status& why) {
    worker::v1::WorkerReady ready;
    ToProto(why, ready.mutable_status());
    session_link.Write(ready).IgnoreError();  // the node waits for this or for the exit
    return 1;
  };
  // A sealed bulk channel may come later, when files are out of reach.
  if (init.bulk_channel()) PrepareChunkCiphers();
  if (absl::Status s = ConfineWorker(init); !s.ok()) return refuse(s);

  NodeTurns turns(control);
  std::vector<std::unique_ptr<LaunchTurns>> device_turns;
  absl::StatusOr<Served> served = OpenLease(init, turns, device_turns);
  if (!served.ok()) return refuse(served.status());
  ModuleCache cache(init.module_cache_bytes());
  auto link = std::make_shared<WorkerSessionLink>(session_link);
  std::unique_ptr<Session> session;
  try {
    session = std::make_unique<Session>(std::move(served->config), cache, link,
                                        [&control](const v1::LeaseUsage& usage) {
                                          worker::v1::WorkerReport report;
                                          *report.mutable_usage() = usage;
                                          // A node that is gone kills this worker.
                                          control.Write(report).IgnoreError();
                                        });
    // Orders from the node: launch turns, and the bulk socket.
    std::thread orders([&] {
      worker::v1::NodeOrder order;
      while (control.Read(order).ok()) {
        if (order.has_grant()) {
          turns.Grant(order.grant());
        } else if (order.has_bulk()) {
          const int fd = control.TakeDescriptor();
          if (fd >= 0 && init.bulk_channel()) {
            auto socket = std::make_unique<BulkSocket>(fd);
            const worker::v1::BulkChannel& bulk = order.bulk();
            auto key = [](const worker::v1::SealKey& k) {
              return SealKey{k.key(), k.iv(), k.sequence()};
            };
            // Keys of the wrong size cannot come from the node: the client
            // then gets no answer, and copies in band.
            if (!bulk.sealed() ||
                socket->Seal(ChannelKeys{key(bulk.send()), key(bulk.receive())}).ok()) {
              session->AttachBulk(std::move(socket));
            }
          } else if (fd >= 0) {
            close(fd);
          }
        }
        order.Clear();
      }
      turns.Close();
    });
    orders.detach();  // blocked on the node's link until the process ends
  } catch (const std::system_error& e) {
    return refuse(absl::ResourceExhaustedError(
        absl::StrCat("the session's worker cannot start a thread: ", e.what())));
  }

  // Last, once every device is open: nothing the client sends runs before.
  if (init.sandbox()) {
    absl::Status sandboxed = EnterSandbox();
    // Without it, tenants' native code must not run here; anything else
    // may, the sandbox being only a second wall there.
    if (!sandboxed.ok() && init.allow_host_kernels()) return refuse(sandboxed);
  }
  worker::v1::WorkerReady ready;
  ToProto(absl::OkStatus(), ready.mutable_status());
  if (!session_link.Write(ready).ok()) return 1;

  v1::SessionRequest request;
  while (session_link.Read(request).ok()) {
    for (v1::Command& command : *request.mutable_commands()) session->Execute(command);
    request.Clear();
  }
  // The node closed the session (or broke the link): it kills this process
  // now, and the kernel frees everything the session held. Exiting at once
  // spares that wait, and waits on nothing the client left queued.
  std::fflush(stderr);
  _exit(0);
}

}  // namespace
}  // namespace accel::pool

int main() { return accel::pool::Serve(); }
