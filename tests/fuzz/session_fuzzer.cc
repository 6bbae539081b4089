// The node's command decoder under libFuzzer: a whole SessionRequest run
// against a real session on a host device, as a hostile client would send
// it. Host-elf kernels stay refused (native code); every other command,
// handle, range and size is the fuzzer's.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "accel/hal/hal.h"
#include "pool/common/session_link.h"
#include "pool/worker/module_cache.h"
#include "pool/worker/session.h"

namespace {

using namespace accel;  // NOLINT: a fuzz target's one function

// Responses go nowhere: the fuzzer judges the node, not what it answers.
class NullLink : public pool::SessionLink {
 public:
  void Send(const pool::v1::SessionResponse&) override {}
  void TrySend(const pool::v1::SessionResponse&) override {}
  void Cut() override {}
};

hal::Device HostDevice() {
  static hal::Registry* registry = [] {
    hal::RegistryOptions options;
    options.only = {"host"};
    options.backend_options["host"] = {{"devices", "1"}, {"device_memory", "67108864"}};
    return hal::Registry::Create(options)->release();
  }();
  return registry->Devices().at(0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pool::v1::SessionRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  pool::Session::Config config;
  config.lease.set_lease_id("fuzz");
  config.devices = {HostDevice()};
  config.quotas = {32u << 20};
  config.turns = {nullptr};
  config.max_streams = 16;
  config.max_events = 64;
  config.max_modules = 8;
  config.stream_threads = 2;
  pool::ModuleCache cache(4u << 20);
  {
    pool::Session session(config, cache, std::make_shared<NullLink>(), nullptr);
    for (pool::v1::Command& command : *request.mutable_commands()) session.Execute(command);
  }  // the session drains and frees everything, as when a client goes
  return 0;
}
