// Bad input on the wire, from a client that speaks the protocol directly:
// unknown handles, another session's handles, malformed and oversize
// requests, forbidden module formats. Each gets a clear error, and a
// well-behaved tenant on the same poold keeps working throughout.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <thread>
#include <vector>

#include <grpcpp/generic/generic_stub.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "accel/client/lease.h"
#include "accel/hal/hal.h"
#include "gtest/gtest.h"
#include "pool/common/bulk_socket.h"
#include "pool/common/session_metadata.h"
#include "pool/common/sha256.h"
#include "pool/common/transport.h"
#include "pool/common/version.h"
#include "tests/common/status_matchers.h"
#include "tests/pool/pool_test_util.h"
#include "tests/pool/poold_process.h"
#include "tests/pool/saxpy_check.h"

namespace accel::testing {
namespace {

namespace hal = ::accel::hal;

// A raw session: write commands, read events.
class RawSession {
 public:
  RawSession(const std::string& address, const v1::LeaseResponse& lease)
      : stub_(v1::Node::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    pool::AttachSessionCredentials(context_, {lease.lease().lease_id(), lease.token()});
    stream_ = stub_->Session(&context_);
    opened_ = stream_->Read(&hello_);
  }
  bool opened() const { return opened_; }
  const v1::SessionResponse& hello() const { return hello_; }
  // Reads until the node ends the session; false if it is still open after
  // `seconds`.
  bool EndsWithin(int seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    v1::SessionResponse response;
    while (std::chrono::steady_clock::now() < deadline && stream_->Read(&response)) {
    }
    return std::chrono::steady_clock::now() < deadline;
  }
  void Cancel() { context_.TryCancel(); }
  // Sends a copy to the host and collects the bytes that come in band
  // until its reply.
  std::string ReadBack(v1::Command command) {
    command.set_reply_id(++reply_);
    v1::SessionRequest request;
    *request.add_commands() = std::move(command);
    EXPECT_TRUE(stream_->Write(request));
    std::string bytes;
    v1::SessionResponse response;
    while (stream_->Read(&response)) {
      for (const v1::SessionEvent& e : response.events()) {
        if (e.has_copy_data()) bytes += e.copy_data().data();
        if (e.has_reply()) {
          EXPECT_EQ(e.reply().status().code(), 0) << e.reply().status().message();
          return bytes;
        }
      }
    }
    ADD_FAILURE() << "session ended before the copy's reply";
    return bytes;
  }
  grpc::Status Finish() {
    stream_->WritesDone();
    return stream_->Finish();
  }
  // Sends one command and returns the first event answering it (or any
  // HandleFailed when it has no reply id).
  v1::SessionEvent Send(v1::Command command) {
    v1::SessionRequest request;
    *request.add_commands() = std::move(command);
    EXPECT_TRUE(stream_->Write(request));
    v1::SessionResponse response;
    while (stream_->Read(&response)) {
      for (const v1::SessionEvent& e : response.events()) {
        if (e.has_reply() || e.has_handle_failed()) return e;
      }
    }
    ADD_FAILURE() << "session ended without an answer";
    return {};
  }
  void WriteRequest(const v1::SessionRequest& request) { EXPECT_TRUE(stream_->Write(request)); }
  bool TryWriteRequest(const v1::SessionRequest& request) { return stream_->Write(request); }
  // Sends without waiting for anything.
  void Write(v1::Command command) {
    v1::SessionRequest request;
    *request.add_commands() = std::move(command);
    stream_->Write(request);
  }
  absl::Status Call(v1::Command command) {
    command.set_reply_id(++reply_);
    v1::SessionEvent e = Send(std::move(command));
    EXPECT_TRUE(e.has_reply());
    EXPECT_EQ(e.reply().reply_id(), reply_);
    return absl::Status(static_cast<absl::StatusCode>(e.reply().status().code()),
                        e.reply().status().message());
  }

 private:
  std::unique_ptr<v1::Node::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::SessionRequest, v1::SessionResponse>> stream_;
  bool opened_ = false;
  v1::SessionResponse hello_;
  uint64_t reply_ = 0;
};

// Connects the session's bulk channel with `key`; the node's one-byte answer
// (1 = attached) goes to `answer` (0 if it closed instead).
absl::StatusOr<std::unique_ptr<pool::BulkSocket>> ConnectBulk(const std::string& address,
                                                              const v1::SessionResponse& hello,
                                                              const std::string& key,
                                                              char* answer) {
  absl::StatusOr<std::unique_ptr<pool::BulkSocket>> socket = pool::BulkSocket::Connect(
      pool::HostOfAddress(address), static_cast<uint16_t>(hello.bulk_port()), 5000);
  if (!socket.ok()) return socket.status();
  if (absl::Status s = (*socket)->WriteAll(key.data(), key.size()); !s.ok()) return s;
  *answer = 0;
  (*socket)->ReadExact(answer, 1).IgnoreError();
  return socket;
}

v1::Command BulkUpload(uint64_t stream, uint64_t buffer, uint64_t size) {
  v1::Command c;
  c.mutable_stream()->set_stream(stream);
  v1::CopyToDevice* op = c.mutable_stream()->mutable_copy_to_device();
  op->mutable_dst()->set_buffer(buffer);
  op->mutable_dst()->set_size(size);
  op->set_bulk_size(size);
  return c;
}

// `memory` > 0: a fractional lease of that much of a device.
v1::LeaseResponse RawLease(const std::string& address, uint32_t ttl_seconds = 0,
                           uint64_t memory = 0) {
  grpc::ClientContext context;
  v1::LeaseRequest request;
  request.set_holder("raw client");
  request.set_ttl_seconds(ttl_seconds);
  request.set_memory(memory);
  v1::LeaseResponse response;
  grpc::Status s = CoordinatorAt(address)->Lease(&context, request, &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return response;
}

v1::Command Allocate(uint64_t handle, uint64_t size) {
  v1::Command c;
  c.mutable_allocate_buffer()->set_handle(handle);
  c.mutable_allocate_buffer()->set_size(size);
  return c;
}

v1::Command CreateStream(uint64_t handle) {
  v1::Command c;
  c.mutable_create_stream()->set_handle(handle);
  return c;
}

v1::Command CopyToHost(uint64_t stream, uint64_t buffer, uint64_t offset, uint64_t size) {
  v1::Command c;
  c.mutable_stream()->set_stream(stream);
  v1::CopyToHost* op = c.mutable_stream()->mutable_copy_to_host();
  op->mutable_src()->set_buffer(buffer);
  op->mutable_src()->set_offset(offset);
  op->mutable_src()->set_size(size);
  return c;
}

class WireBadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // No --allow_host_kernels: clients may not run native code in poold.
    ASSERT_OK_AND_ASSIGN(poold_,
                         PooldProcess::Start({"--host_devices=3", "--host_device_memory=256MiB"}));
    // The well-behaved tenant.
    ASSERT_OK_AND_ASSIGN(good_, client::AcquireLease(poold_->address(), {}));
  }
  // The good tenant's device still works.
  void ExpectGoodTenantWorks() {
    const hal::Device& d = good_->devices()[0];
    absl::StatusOr<hal::Buffer> b = d.Allocate(4096);
    ASSERT_OK(b);
    std::vector<std::byte> in(4096, std::byte{7}), out(4096);
    ASSERT_OK(d.CopyToDevice(in, *b));
    ASSERT_OK(d.CopyToHost(*b, absl::MakeSpan(out)));
    EXPECT_TRUE(in == out);
  }
  std::unique_ptr<PooldProcess> poold_;
  std::unique_ptr<client::Lease> good_;
};

TEST_F(WireBadInputTest, WrongTokenIsRefused) {
  v1::LeaseResponse lease = RawLease(poold_->address());
  lease.set_token("not-the-token");
  RawSession session(poold_->address(), lease);
  EXPECT_FALSE(session.opened());
  grpc::Status status = session.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  ExpectGoodTenantWorks();
}

TEST_F(WireBadInputTest, UnknownHandlesAreInvalidArgument) {
  RawSession s(poold_->address(), RawLease(poold_->address()));
  ASSERT_TRUE(s.opened());
  v1::Command sync;
  sync.mutable_stream()->set_stream(999);
  sync.mutable_stream()->mutable_synchronize_stream();
  EXPECT_STATUS(s.Call(sync), kInvalidArgument);
  v1::Command query;
  query.mutable_query_event()->set_event(12345);
  EXPECT_STATUS(s.Call(query), kInvalidArgument);
  v1::Command kernel;
  kernel.mutable_get_kernel()->set_handle(3);
  kernel.mutable_get_kernel()->set_module(777);
  kernel.mutable_get_kernel()->set_name("saxpy");
  EXPECT_STATUS(s.Call(kernel), kInvalidArgument);
  v1::Command address;
  address.mutable_buffer_address()->set_buffer(4242);
  EXPECT_STATUS(s.Call(address), kInvalidArgument);
  v1::Command global;
  global.mutable_get_global()->set_handle(5);
  global.mutable_get_global()->set_module(777);
  global.mutable_get_global()->set_name("accel_global_table");
  EXPECT_STATUS(s.Call(global), kInvalidArgument);
  v1::Command params;
  params.mutable_kernel_parameters()->set_kernel(31337);
  EXPECT_STATUS(s.Call(params), kInvalidArgument);
  // A handle of the wrong kind is as unknown as a missing one.
  ASSERT_OK(s.Call(CreateStream(1)));
  v1::Command wrong_kind;
  wrong_kind.mutable_synchronize_event()->set_event(1);
  EXPECT_STATUS(s.Call(wrong_kind), kInvalidArgument);
  address.mutable_buffer_address()->set_buffer(1);
  EXPECT_STATUS(s.Call(address), kInvalidArgument);
  params.mutable_kernel_parameters()->set_kernel(1);
  EXPECT_STATUS(s.Call(params), kInvalidArgument);
  v1::Command kernel_query;
  kernel_query.mutable_kernel_query()->set_kernel(1);  // the stream
  EXPECT_STATUS(s.Call(kernel_query), kInvalidArgument);
  kernel_query.mutable_kernel_query()->set_kernel(31337);
  kernel_query.mutable_kernel_query()->set_kind(0xffffffffu);
  EXPECT_STATUS(s.Call(kernel_query), kInvalidArgument);
  ExpectGoodTenantWorks();
}

TEST_F(WireBadInputTest, BadCommandsBecomeStickyStreamErrors) {
  RawSession s(poold_->address(), RawLease(poold_->address()));
  ASSERT_TRUE(s.opened());
  v1::SessionRequest batch;
  v1::Command stream = CreateStream(1);
  v1::Command buffer = Allocate(2, 4096);
  ASSERT_OK(s.Call(stream));
  ASSERT_OK(s.Call(buffer));
  // Out of range, then an unknown buffer: the first is the stream's error.
  EXPECT_STATUS(s.Call(CopyToHost(1, 2, 4000, 4096)), kInvalidArgument);
  v1::Command sync;
  sync.mutable_stream()->set_stream(1);
  sync.mutable_stream()->mutable_synchronize_stream();
  absl::Status sticky = s.Call(sync);
  EXPECT_STATUS(sticky, kInvalidArgument);
  EXPECT_NE(sticky.message().find("outside"), std::string::npos) << sticky;
  ExpectGoodTenantWorks();
}

TEST_F(WireBadInputTest, AnotherSessionsHandlesDoNotExistHere) {
  // The good tenant's handles are numbered 1, 2, ...: a raw client naming
  // them reaches nothing of the good tenant's.
  const hal::Device& d = good_->devices()[0];
  ASSERT_OK_AND_ASSIGN(hal::Buffer secret, d.Allocate(4096));
  ASSERT_OK(d.Fill(secret, "\x42", 1));
  RawSession s(poold_->address(), RawLease(poold_->address()));
  ASSERT_TRUE(s.opened());
  ASSERT_OK(s.Call(CreateStream(1000)));
  for (uint64_t handle = 1; handle < 20; ++handle) {
    absl::Status status = s.Call(CopyToHost(1000, handle, 0, 16));
    EXPECT_FALSE(status.ok()) << "handle " << handle << " readable across sessions";
  }
  ExpectGoodTenantWorks();
}

TEST_F(WireBadInputTest, MalformedAndOversizeRequests) {
  RawSession s(poold_->address(), RawLease(poold_->address()));
  ASSERT_TRUE(s.opened());
  v1::Command empty;
  EXPECT_STATUS(s.Call(empty), kInvalidArgument);
  // Over the lease's quota, and far over the device.
  v1::SessionEvent failed = s.Send(Allocate(5, 300ull << 20));
  ASSERT_TRUE(failed.has_handle_failed());
  EXPECT_EQ(failed.handle_failed().handle(), 5u);
  EXPECT_EQ(failed.handle_failed().status().code(),
            static_cast<int>(absl::StatusCode::kResourceExhausted));
  EXPECT_STATUS(s.Call(Allocate(6, ~uint64_t{0})), kResourceExhausted);
  EXPECT_STATUS(s.Call(Allocate(0, 16)), kInvalidArgument);  // handle 0 is reserved
  ASSERT_OK(s.Call(Allocate(7, 16)));
  EXPECT_STATUS(s.Call(Allocate(7, 16)), kAlreadyExists);
  v1::Command device;
  device.mutable_create_stream()->set_handle(8);
  device.mutable_create_stream()->set_device(42);
  EXPECT_STATUS(s.Call(device), kInvalidArgument);
  // Using the failed buffer says why it does not exist.
  ASSERT_OK(s.Call(CreateStream(9)));
  absl::Status use = s.Call(CopyToHost(9, 5, 0, 16));
  EXPECT_STATUS(use, kResourceExhausted);
  EXPECT_NE(use.message().find("never created"), std::string::npos) << use;
  ExpectGoodTenantWorks();
}

// A client that skips the SDK's own accounting still cannot take more of a
// shared device than its lease's share, and its neighbour keeps its own.
TEST_F(WireBadInputTest, AFractionalLeaseCannotAllocateBeyondItsShare) {
  const v1::LeaseResponse first = RawLease(poold_->address(), 0, 64ull << 20);
  const v1::LeaseResponse second = RawLease(poold_->address(), 0, 64ull << 20);
  ASSERT_EQ(first.lease().devices(0).device().id(), second.lease().devices(0).device().id());
  RawSession a(first.lease().node_address(), first);
  RawSession b(second.lease().node_address(), second);
  ASSERT_TRUE(a.opened() && b.opened());
  ASSERT_OK(a.Call(Allocate(1, 48ull << 20)));
  absl::Status over = a.Call(Allocate(2, 32ull << 20));
  EXPECT_STATUS(over, kResourceExhausted);
  EXPECT_NE(over.message().find("quota"), std::string::npos) << over;
  ASSERT_OK(b.Call(Allocate(1, 64ull << 20)));  // all of its own share
  EXPECT_STATUS(b.Call(Allocate(2, 1)), kResourceExhausted);
  ASSERT_OK(a.Call(Allocate(3, 16ull << 20)));  // exactly the rest of a's
  ExpectGoodTenantWorks();
}

TEST_F(WireBadInputTest, StreamsPerSessionAreCapped) {
  RawSession s(poold_->address(), RawLease(poold_->address()));
  ASSERT_TRUE(s.opened());
  absl::Status last;
  int created = 0;
  for (uint64_t handle = 1; handle <= 300; ++handle) {
    last = s.Call(CreateStream(handle));
    if (!last.ok()) break;
    ++created;
  }
  EXPECT_EQ(created, 256);
  EXPECT_STATUS(last, kResourceExhausted);
  ExpectGoodTenantWorks();
}

TEST_F(WireBadInputTest, AClientThatStopsReadingCannotStallLeaseExpiry) {
  // A raw client fills its session with replies it never reads, and never
  // renews its 1 s lease. Its lease must still end on time, and so must
  // everyone else's: the reaper may not wait on that client.
  v1::LeaseResponse stuck = RawLease(poold_->address(), 1);
  RawSession s(poold_->address(), stuck);
  ASSERT_TRUE(s.opened());
  ASSERT_OK(s.Call(CreateStream(1)));
  ASSERT_OK(s.Call(Allocate(2, 64 << 20)));
  for (int i = 0; i < 8; ++i) {  // 512 MiB of replies nobody reads
    v1::Command read = CopyToHost(1, 2, 0, 64 << 20);
    read.set_reply_id(100 + i);
    s.Write(read);
  }
  v1::LeaseResponse other = RawLease(poold_->address(), 1);
  EXPECT_TRUE(Eventually(
      [&] {
        return !HasLease(poold_->address(), stuck.lease().lease_id()) &&
               !HasLease(poold_->address(), other.lease().lease_id());
      },
      10));
  ExpectGoodTenantWorks();
}

TEST_F(WireBadInputTest, HostKernelsAreRefusedUnlessAllowed) {
  RawSession s(poold_->address(), RawLease(poold_->address()));
  ASSERT_TRUE(s.opened());
  v1::Command load;
  load.mutable_load_module()->set_handle(1);
  load.mutable_load_module()->set_format(ACCEL_IMAGE_HOST_ELF);
  load.mutable_load_module()->set_has_image(true);
  load.mutable_load_module()->set_image(
      "\x7f"
      "ELF anything");
  EXPECT_STATUS(s.Call(load), kPermissionDenied);
  v1::Command unknown_format = load;
  unknown_format.mutable_load_module()->set_format(77);
  EXPECT_STATUS(s.Call(unknown_format), kInvalidArgument);
  v1::Command uncached = load;
  uncached.mutable_load_module()->set_format(ACCEL_IMAGE_SPIRV);
  uncached.mutable_load_module()->set_has_image(false);
  uncached.mutable_load_module()->set_sha256(std::string(32, 'x'));
  EXPECT_STATUS(s.Call(uncached), kNotFound);
  ExpectGoodTenantWorks();
}

TEST_F(WireBadInputTest, AModuleImageIsVisibleOnlyToTheSessionThatSentIt) {
  // Each session's images live in its own worker: another tenant can neither
  // load an image by its digest nor learn that anyone sent it.
  RawSession a(poold_->address(), RawLease(poold_->address()));
  RawSession b(poold_->address(), RawLease(poold_->address()));
  ASSERT_TRUE(a.opened() && b.opened());
  const std::string image = "a SPIR-V image only session a has sent";
  v1::Command sent;
  sent.mutable_load_module()->set_handle(1);
  sent.mutable_load_module()->set_format(ACCEL_IMAGE_SPIRV);
  sent.mutable_load_module()->set_has_image(true);
  sent.mutable_load_module()->set_image(image);
  // Cached, though the host device cannot run SPIR-V.
  EXPECT_FALSE(a.Call(sent).ok());
  v1::Command by_digest;
  by_digest.mutable_load_module()->set_handle(2);
  by_digest.mutable_load_module()->set_format(ACCEL_IMAGE_SPIRV);
  by_digest.mutable_load_module()->set_sha256(pool::Sha256(image));
  const absl::Status in_a = a.Call(by_digest);
  EXPECT_NE(in_a.code(), absl::StatusCode::kNotFound) << in_a;
  const absl::Status in_b = b.Call(by_digest);
  EXPECT_EQ(in_b.code(), absl::StatusCode::kNotFound) << in_b;
  EXPECT_TRUE(absl::StrContains(in_b.message(), "not cached")) << in_b;
  ExpectGoodTenantWorks();
}

TEST_F(WireBadInputTest, ModuleImagesCountAgainstTheLeasesMemoryAndEventsAreCapped) {
  RawSession s(poold_->address(), RawLease(poold_->address(), 0, 16ull << 20));
  ASSERT_TRUE(s.opened());
  v1::Command load;
  load.mutable_load_module()->set_handle(1);
  load.mutable_load_module()->set_format(ACCEL_IMAGE_SPIRV);
  load.mutable_load_module()->set_has_image(true);
  load.mutable_load_module()->set_image(std::string(17u << 20, 'x'));
  const absl::Status big = s.Call(load);
  EXPECT_EQ(big.code(), absl::StatusCode::kResourceExhausted) << big;
  EXPECT_TRUE(absl::StrContains(big.message(), "module image")) << big;

  // 65536 events at most, in one request; the one after is refused.
  v1::SessionRequest many;
  for (uint64_t h = 100; h < 100 + 65536; ++h) {
    many.add_commands()->mutable_create_event()->set_handle(h);
  }
  s.WriteRequest(many);
  v1::Command one_more;
  one_more.mutable_create_event()->set_handle(99);
  const absl::Status capped = s.Call(one_more);
  EXPECT_EQ(capped.code(), absl::StatusCode::kResourceExhausted) << capped;
  EXPECT_TRUE(absl::StrContains(capped.message(), "65536 events")) << capped;
  ExpectGoodTenantWorks();
}

// Resident memory of a process, in bytes (0 if it is gone).
uint64_t ResidentBytes(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    uint64_t kib = 0;
    if (absl::StartsWith(line, "VmRSS:") &&
        absl::SimpleAtoi(
            absl::StripAsciiWhitespace(absl::StripSuffix(absl::StripPrefix(line, "VmRSS:"), "kB")),
            &kib)) {
      return kib << 10;
    }
  }
  return 0;
}

TEST_F(WireBadInputTest, AFloodOfCommandsIsHeldBackAndBoundsMemory) {
  RawSession s(poold_->address(), RawLease(poold_->address()));
  ASSERT_TRUE(s.opened());
  ASSERT_OK(s.Call(Allocate(1, 1 << 20)));
  ASSERT_OK(s.Call(CreateStream(2)));
  v1::Command event;
  event.mutable_create_event()->set_handle(3);
  ASSERT_OK(s.Call(event));
  const uint64_t poold_before = ResidentBytes(poold_->pid());
  // Fills and event records, never synchronized, as fast as the client can
  // send them, for two seconds.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sent{0};
  std::thread flood([&] {
    v1::SessionRequest batch;
    for (int i = 0; i < 1000; ++i) {
      v1::Command* fill = batch.add_commands();
      fill->mutable_stream()->set_stream(2);
      v1::Fill* op = fill->mutable_stream()->mutable_fill();
      op->mutable_dst()->set_buffer(1);
      op->mutable_dst()->set_size(1 << 20);
      op->set_pattern(7);
      op->set_pattern_size(4);
      v1::Command* record = batch.add_commands();
      record->mutable_stream()->set_stream(2);
      record->mutable_stream()->mutable_record_event()->set_event(3);
    }
    while (!stop && s.TryWriteRequest(batch)) sent += batch.commands_size();
  });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  // The node holds none of it: the worker's queue is full and pushes back.
  // (AddressSanitizer keeps up to 256 MiB of freed memory in quarantine.)
#if defined(__SANITIZE_ADDRESS__)
  constexpr uint64_t kAllocatorSlack = 320ull << 20;
#else
  constexpr uint64_t kAllocatorSlack = 64ull << 20;
#endif
  EXPECT_LT(ResidentBytes(poold_->pid()), poold_before + kAllocatorSlack);
  ExpectGoodTenantWorks();
  stop = true;
  s.Cancel();
  flood.join();
  EXPECT_GT(sent.load(), 0u);
}

TEST_F(WireBadInputTest, GarbageBytesOnTheSessionEndOnlyThatSession) {
  v1::LeaseResponse lease = RawLease(poold_->address());
  auto channel = grpc::CreateChannel(poold_->address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  auto call = generic.PrepareCall(&context, "/accelpool.v1.Node/Session", &cq);
  call->StartCall(reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  grpc::Slice garbage(std::string("\xff\xff\xff\xff this is not a protobuf"));
  grpc::ByteBuffer bytes(&garbage, 1);
  call->Write(bytes, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_FALSE(status.ok());
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  ExpectGoodTenantWorks();
}

TEST_F(WireBadInputTest, BulkChannelTakesOnlyItsSessionsKeyAndOnlyOnce) {
  v1::LeaseResponse lease = RawLease(poold_->address());
  RawSession session(poold_->address(), lease);
  ASSERT_TRUE(session.opened());
  ASSERT_NE(session.hello().bulk_port(), 0u);
  ASSERT_EQ(session.hello().bulk_key().size(), pool::kBulkKeyBytes);
  char answer = 0;
  std::string wrong = session.hello().bulk_key();
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  ASSERT_OK_AND_ASSIGN(auto refused,
                       ConnectBulk(poold_->address(), session.hello(), wrong, &answer));
  EXPECT_EQ(answer, 0);
  ASSERT_OK_AND_ASSIGN(auto attached, ConnectBulk(poold_->address(), session.hello(),
                                                  session.hello().bulk_key(), &answer));
  EXPECT_EQ(answer, 1);
  ASSERT_OK_AND_ASSIGN(auto again, ConnectBulk(poold_->address(), session.hello(),
                                               session.hello().bulk_key(), &answer));
  EXPECT_EQ(answer, 0) << "a key attaches one socket only";
  // The attached channel works: upload on it, read back in band.
  ASSERT_OK(session.Call(CreateStream(1)));
  ASSERT_OK(session.Call(Allocate(2, 4096)));
  session.Write(BulkUpload(1, 2, 4096));
  std::vector<char> bytes(4096, 'q');
  ASSERT_OK(attached->WriteAll(bytes.data(), bytes.size()));
  EXPECT_EQ(session.ReadBack(CopyToHost(1, 2, 0, 4096)), std::string(4096, 'q'));
  ExpectGoodTenantWorks();
}

TEST_F(WireBadInputTest, SilentBulkConnectionsDoNotHoldOthersUp) {
  // Connections to the bulk port that send part of a key, or nothing, are
  // dropped after a second; meanwhile a real client gets its channel at
  // once (handshakes do not wait on each other).
  v1::LeaseResponse lease = RawLease(poold_->address());
  RawSession session(poold_->address(), lease);
  ASSERT_TRUE(session.opened());
  std::vector<std::unique_ptr<pool::BulkSocket>> silent;
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK_AND_ASSIGN(silent.emplace_back(),
                         pool::BulkSocket::Connect(pool::HostOfAddress(poold_->address()),
                                                   session.hello().bulk_port(), 5000));
    ASSERT_OK(silent.back()->WriteAll("k", 1));
  }
  char answer = 0;
  auto start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(auto attached, ConnectBulk(poold_->address(), session.hello(),
                                                  session.hello().bulk_key(), &answer));
  EXPECT_EQ(answer, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  // And the silent ones are closed by the node (after about a second).
  char byte = 0;
  EXPECT_STATUS(silent[0]->ReadExact(&byte, 1, /*timeout_ms=*/5000), kUnavailable);
  ExpectGoodTenantWorks();
}

TEST_F(WireBadInputTest, OversizeBulkUploadEndsOnlyThatSession) {
  v1::LeaseResponse lease = RawLease(poold_->address());
  RawSession session(poold_->address(), lease);
  ASSERT_TRUE(session.opened());
  char answer = 0;
  ASSERT_OK_AND_ASSIGN(auto bulk, ConnectBulk(poold_->address(), session.hello(),
                                              session.hello().bulk_key(), &answer));
  ASSERT_EQ(answer, 1);
  ASSERT_OK(session.Call(CreateStream(1)));
  ASSERT_OK(session.Call(Allocate(2, 64 << 20)));
  // The node cannot keep the channel in step after refusing it: it ends
  // the session rather than read 64 MiB it will not buffer.
  session.Write(BulkUpload(1, 2, 64 << 20));
  EXPECT_TRUE(session.EndsWithin(10));
  EXPECT_TRUE(
      Eventually([&] { return !HasLease(poold_->address(), lease.lease().lease_id()); }, 10));
  ExpectGoodTenantWorks();
}

TEST_F(WireBadInputTest, BulkUploadWithoutAChannelFailsTheStream) {
  v1::LeaseResponse lease = RawLease(poold_->address());
  RawSession session(poold_->address(), lease);
  ASSERT_TRUE(session.opened());
  ASSERT_OK(session.Call(CreateStream(1)));
  ASSERT_OK(session.Call(Allocate(2, 64)));
  v1::SessionEvent e = session.Send(BulkUpload(1, 2, 64));
  ASSERT_TRUE(e.has_handle_failed());
  EXPECT_EQ(e.handle_failed().handle(), 1u);
  EXPECT_EQ(e.handle_failed().status().code(),
            static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_NE(e.handle_failed().status().message().find("no bulk channel"), std::string::npos);
  ExpectGoodTenantWorks();
}

TEST_F(WireBadInputTest, ClientGoneInTheMiddleOfABulkUploadFreesItsSession) {
  v1::LeaseResponse lease = RawLease(poold_->address());
  auto session = std::make_unique<RawSession>(poold_->address(), lease);
  ASSERT_TRUE(session->opened());
  char answer = 0;
  ASSERT_OK_AND_ASSIGN(auto bulk, ConnectBulk(poold_->address(), session->hello(),
                                              session->hello().bulk_key(), &answer));
  ASSERT_EQ(answer, 1);
  ASSERT_OK(session->Call(CreateStream(1)));
  ASSERT_OK(session->Call(Allocate(2, 8 << 20)));
  session->Write(BulkUpload(1, 2, 8 << 20));
  std::vector<char> part(1 << 20, 'x');
  ASSERT_OK(bulk->WriteAll(part.data(), part.size()));  // 1 MiB of the 8 promised
  // The client dies: both connections close.
  bulk.reset();
  session->Cancel();
  session.reset();
  EXPECT_TRUE(
      Eventually([&] { return !HasLease(poold_->address(), lease.lease().lease_id()); }, 10));
  EXPECT_TRUE(Eventually(
      [&] {
        const v1::ListDevicesResponse devices = Devices(poold_->address());
        for (const v1::DeviceInfo& d : devices.devices()) {
          if (d.leases() == 0 && d.used_memory() != 0) return false;
        }
        return true;
      },
      10));
  ExpectGoodTenantWorks();
}

}  // namespace
}  // namespace accel::testing

namespace accel::testing {
namespace {

TEST(NodeLimitsTest, SessionsBeyondTheNodesMaximumAreRefused) {
  ASSERT_OK_AND_ASSIGN(
      auto poold,
      PooldProcess::Start({"--host_devices=1", "--host_device_memory=256MiB", "--max_sessions=2"}));
  std::vector<std::unique_ptr<RawSession>> sessions;
  for (int i = 0; i < 2; ++i) {
    sessions.push_back(
        std::make_unique<RawSession>(poold->address(), RawLease(poold->address(), 0, 32ull << 20)));
    ASSERT_TRUE(sessions.back()->opened());
  }
  RawSession third(poold->address(), RawLease(poold->address(), 0, 32ull << 20));
  EXPECT_FALSE(third.opened());
  const grpc::Status refused = third.Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "max_sessions"))
      << refused.error_message();
  // A session that ends makes room.
  sessions.pop_back();
  EXPECT_TRUE(Eventually(
      [&] {
        return RawSession(poold->address(), RawLease(poold->address(), 0, 32ull << 20)).opened();
      },
      10));
}

// A session stream is authenticated from its metadata before the node reads
// a message: streams without a lease's token, or with another protocol's
// metadata, are answered at once, even while one pushes a 60 MiB message,
// and hold nothing up.
TEST(NodeLimitsTest, UnauthenticatedSessionStreamsAreRefusedBeforeTheirFirstMessage) {
  ASSERT_OK_AND_ASSIGN(auto poold, PooldProcess::Start({"--host_devices=1"}));
  auto channel =
      grpc::CreateCustomChannel(poold->address(), grpc::InsecureChannelCredentials(), [] {
        grpc::ChannelArguments args;
        pool::ApplyBulkTransferSettings(args);
        return args;
      }());
  auto stub = v1::Node::NewStub(channel);
  struct Stream {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<v1::SessionRequest, v1::SessionResponse>> stream;
  };
  auto open = [&](const std::function<void(grpc::ClientContext&)>& metadata) {
    auto s = std::make_unique<Stream>();
    s->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    metadata(s->context);
    s->stream = stub->Session(&s->context);
    return s;
  };
  std::vector<std::unique_ptr<Stream>> streams;
  for (int i = 0; i < 100; ++i) streams.push_back(open([](grpc::ClientContext&) {}));
  streams.push_back(open([](grpc::ClientContext& c) {
    pool::AttachSessionCredentials(c, {"no-such-lease", "no-such-token"});
  }));
  streams.push_back(open([](grpc::ClientContext& c) { c.AddMetadata("x-accel-protocol", "2.0"); }));
  streams.push_back(open([](grpc::ClientContext& c) {
    c.AddMetadata("x-accel-protocol", absl::StrCat(pool::kProtocolMajor, ".0"));
  }));
  // One pushes a large message at once; it is never parsed.
  std::unique_ptr<Stream> pushing = open([](grpc::ClientContext&) {});
  v1::SessionRequest big;
  v1::Command* load = big.add_commands();
  load->mutable_load_module()->set_image(std::string(60 << 20, 'x'));
  pushing->stream->Write(big);  // may fail: the node has answered already
  // A real client is served meanwhile.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<client::Lease> lease,
                       client::AcquireLease(poold->address(), {}));
  ASSERT_OK_AND_ASSIGN(hal::Buffer b, lease->devices()[0].Allocate(4096));
  streams.push_back(std::move(pushing));
  std::vector<grpc::Status> ends;
  for (auto& s : streams) {
    v1::SessionResponse response;
    EXPECT_FALSE(s->stream->Read(&response));
    ends.push_back(s->stream->Finish());
  }
  // No metadata at all is an older protocol's client; so is 2.0's.
  for (size_t i : {size_t{0}, size_t{101}, ends.size() - 1}) {
    EXPECT_EQ(ends[i].error_code(), grpc::StatusCode::FAILED_PRECONDITION) << i;
    EXPECT_TRUE(absl::StrContains(ends[i].error_message(), "protocol")) << ends[i].error_message();
  }
  // A made-up lease is no lease.
  EXPECT_TRUE(ends[100].error_code() == grpc::StatusCode::PERMISSION_DENIED ||
              ends[100].error_code() == grpc::StatusCode::NOT_FOUND)
      << ends[100].error_message();
  EXPECT_EQ(ends[102].error_code(), grpc::StatusCode::UNAUTHENTICATED) << ends[102].error_message();
}

// Two thousand connections that connect and say nothing (no TLS hello, no
// HTTP/2 preface) cost poold a descriptor each, not a thread: a real client
// still leases and computes, and poold closes them at the handshake
// deadline.
TEST(NodeLimitsTest, ThousandsOfIdleConnectionsDoNotStopARealClient) {
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < 4096) {
    files.rlim_cur = std::min<rlim_t>(files.rlim_max, 4096);
    setrlimit(RLIMIT_NOFILE, &files);
  }
  ASSERT_OK_AND_ASSIGN(auto poold, PooldProcess::Start({"--host_devices=1", "--allow_host_kernels",
                                                        "--handshake_seconds=2"}));
  const int port = std::stoi(poold->address().substr(poold->address().rfind(':') + 1));
  std::vector<int> idle;
  for (int i = 0; i < 2000; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    if (fd < 0) break;  // this process ran out of descriptors: enough of them
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      close(fd);
      break;
    }
    idle.push_back(fd);
  }
  EXPECT_GE(idle.size(), 1000u);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<client::Lease> lease,
                       client::AcquireLease(poold->address(), {}));
  ASSERT_OK(RunSaxpy(lease->devices()[0], 4096));
  // The handshake deadline closes them (poold's HTTP/2 settings may come
  // first): every one reaches end-of-file within 15 s.
  std::vector<pollfd> open;
  for (int fd : idle) open.push_back({fd, POLLIN, 0});
  size_t closed = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!open.empty() && std::chrono::steady_clock::now() < deadline) {
    if (poll(open.data(), open.size(), 500) <= 0) continue;
    for (size_t i = open.size(); i-- > 0;) {
      if (open[i].revents == 0) continue;
      char buffer[256];
      if (recv(open[i].fd, buffer, sizeof(buffer), MSG_DONTWAIT) > 0) continue;
      close(open[i].fd);
      open.erase(open.begin() + static_cast<std::ptrdiff_t>(i));
      ++closed;
    }
  }
  for (const pollfd& p : open) close(p.fd);
  EXPECT_EQ(closed, idle.size());
}

// A node on a wildcard address must say what clients reach it at: it would
// otherwise send them to 0.0.0.0, their own host.
TEST(NodeLimitsTest, ANodeOnAWildcardAddressMustAdvertiseOne) {
  ASSERT_OK_AND_ASSIGN(
      auto run, RunProgram(ACCEL_TEST_POOLD, {"--listen=0.0.0.0:0", "--coordinator=127.0.0.1:1",
                                              "--host_devices=1"}));
  EXPECT_NE(run.first, 0);
  EXPECT_TRUE(absl::StrContains(run.second, "--advertise_address")) << run.second;
}

}  // namespace
}  // namespace accel::testing
