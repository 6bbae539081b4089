// TLS on the pool's links, seen from outside: real poolds with certificates
// from a private CA made by scripts/make-ca.sh, clients with and without the
// right CA, a recording proxy on the wire, and nodes joining by certificate.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "accel/client/lease.h"
#include "accel/hal/hal.h"
#include "gtest/gtest.h"
#include "pool/common/bearer_token.h"
#include "pool/common/sha256.h"
#include "pool/common/tls.h"
#include "tests/common/scoped_temp_dir.h"
#include "tests/common/status_matchers.h"
#include "tests/pool/pool_test_util.h"
#include "tests/pool/poold_process.h"
#include "tests/pool/recording_proxy.h"
#include "tests/pool/saxpy_check.h"

namespace accel::testing {
namespace {

using client::AcquireLease;
using client::Lease;
using client::LeaseRequest;

constexpr char kTenantToken[] = "tls-tenant-token-5f2e9a0c41b7";

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    // The pool's CA with certificates for poold and two nodes; a CA of
    // nobody's; an expired certificate; one for another host.
    ASSERT_OK(MakeCa("pki", {"poold", "node-b"}));
    ASSERT_OK(MakeCa("other", {"poold"}));
    ASSERT_OK(MakeCa("pki", {"stale"}, "ACCEL_CA_EXPIRED=1"));
    ASSERT_OK(MakeCa("pki", {"far"}, "ACCEL_CA_HOSTS=elsewhere.example"));
    ASSERT_OK(MakeCa("pki", {"proxied"}, "ACCEL_CA_HOSTS=127.0.0.1 127.0.0.2"));
    std::ofstream(dir_.Path("tenants"))
        << "tenant risk token_sha256=" << absl::BytesToHexString(pool::Sha256(kTenantToken))
        << "\n";
  }

  absl::Status MakeCa(const std::string& sub, const std::vector<std::string>& names,
                      const std::string& env = "") {
    std::vector<std::string> args;
    if (!env.empty()) args.push_back(env);
    args.insert(args.end(), {"bash", ACCEL_TEST_MAKE_CA, dir_.Path(sub)});
    args.insert(args.end(), names.begin(), names.end());
    absl::StatusOr<std::pair<int, std::string>> made = RunProgram("/usr/bin/env", args);
    if (!made.ok()) return made.status();
    if (made->first != 0) return absl::InternalError("make-ca.sh failed: " + made->second);
    return absl::OkStatus();
  }
  std::string Pem(const std::string& name) { return dir_.Path("pki/" + name + ".pem"); }
  std::string Key(const std::string& name) { return dir_.Path("pki/" + name + ".key"); }
  std::string Ca() { return dir_.Path("pki/ca.pem"); }

  // poold serving TLS with `name`'s certificate.
  absl::StatusOr<std::unique_ptr<PooldProcess>> StartTlsPool(const std::string& name,
                                                             std::vector<std::string> more = {}) {
    std::vector<std::string> args = {
        "--allow_host_kernels",        "--host_devices=1",
        "--host_device_memory=256MiB", "--tenants=" + dir_.Path("tenants"),
        "--tls_cert=" + Pem(name),     "--tls_key=" + Key(name)};
    args.insert(args.end(), more.begin(), more.end());
    return PooldProcess::Start(args);
  }

  LeaseRequest WithCa(const std::string& ca) {
    LeaseRequest request;
    request.token = kTenantToken;
    request.tls_ca = ca;
    return request;
  }

  // The coordinator's node names, asked by its host's operator.
  std::vector<std::string> NodeNames(const std::string& address) {
    auto stub = OperatorAt(address);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListNodesResponse nodes;
    stub->ListNodes(&context, v1::ListNodesRequest(), &nodes);
    std::vector<std::string> names;
    for (const v1::NodeInfo& n : nodes.nodes()) names.push_back(n.name());
    return names;
  }

  ScopedTempDir dir_;
};

TEST_F(TlsTest, AClientWithThePoolsCaLeasesAndRunsSaxpy) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PooldProcess> poold, StartTlsPool("poold"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> lease, AcquireLease(poold->address(), WithCa(Ca())));
  ASSERT_OK(RunSaxpy(lease->devices()[0], 1 << 18));  // 1 MiB vectors: several copy chunks
  lease.reset();
  // In band: every byte in the encrypted gRPC session.
  setenv("ACCEL_POOL_BULK", "off", 1);
  absl::StatusOr<std::unique_ptr<Lease>> in_band = AcquireLease(poold->address(), WithCa(Ca()));
  unsetenv("ACCEL_POOL_BULK");
  ASSERT_OK(in_band.status());
  ASSERT_OK(RunSaxpy((*in_band)->devices()[0], 1 << 18));
  in_band->reset();
  // The environment works as the request's fields do.
  setenv("ACCEL_POOL_TLS_CA", Ca().c_str(), 1);
  absl::StatusOr<std::unique_ptr<Lease>> from_env = AcquireLease(poold->address(), WithCa(""));
  unsetenv("ACCEL_POOL_TLS_CA");
  ASSERT_OK(from_env.status());
  ASSERT_OK(RunSaxpy((*from_env)->devices()[0], 4096));
}

// A renewed certificate (here: from another CA) takes effect without a
// restart, and the sessions open meanwhile carry on.
TEST_F(TlsTest, ARenewedCertificateIsPickedUpWithoutDroppingSessions) {
  const std::string cert = dir_.Path("live.pem"), key = dir_.Path("live.key");
  std::filesystem::copy_file(Pem("poold"), cert);
  std::filesystem::copy_file(Key("poold"), key);
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<PooldProcess> poold,
      PooldProcess::Start({"--host_devices=2", "--host_device_memory=256MiB",
                           "--allow_host_kernels", "--tenants=" + dir_.Path("tenants"),
                           "--tls_cert=" + cert, "--tls_key=" + key}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> before, AcquireLease(poold->address(), WithCa(Ca())));
  using std::filesystem::copy_options;
  std::filesystem::copy_file(dir_.Path("other/poold.pem"), cert, copy_options::overwrite_existing);
  std::filesystem::copy_file(dir_.Path("other/poold.key"), key, copy_options::overwrite_existing);
  kill(poold->pid(), SIGHUP);
  EXPECT_TRUE(Eventually(
      [&] { return AcquireLease(poold->address(), WithCa(dir_.Path("other/ca.pem"))).ok(); }, 10));
  EXPECT_TRUE(Eventually([&] { return absl::StrContains(poold->log(), "SIGHUP: the TLS"); }, 5))
      << poold->log();
  // The old session never noticed (its connection was made before). New
  // calls of its client would now fail: the pool's CA changed under it,
  // which a real renewal (the same CA) does not do.
  ASSERT_OK(RunSaxpy(before->devices()[0], 4096));
}

TEST_F(TlsTest, PoolctlSpeaksTls) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PooldProcess> poold, StartTlsPool("poold"));
  ASSERT_OK_AND_ASSIGN(auto with_ca, RunProgram(ACCEL_TEST_POOLCTL, {"--pool", poold->address(),
                                                                     "--tls_ca", Ca(), "nodes"}));
  EXPECT_EQ(with_ca.first, 0) << with_ca.second;
  EXPECT_TRUE(absl::StrContains(with_ca.second, poold->address())) << with_ca.second;
  // Plaintext TCP to a TLS pool fails; on the pool's host, without a token,
  // poolctl would take the admin socket instead, so it is told not to.
  ASSERT_OK_AND_ASSIGN(
      auto plain, RunProgram(ACCEL_TEST_POOLCTL,
                             {"--pool", poold->address(), "--admin_socket", "none", "nodes"}, 20));
  EXPECT_NE(plain.first, 0) << plain.second;
}

TEST_F(TlsTest, ClientsWithoutThePoolsCaAreRefused) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PooldProcess> poold, StartTlsPool("poold"));
  // Plaintext to a TLS pool, another CA, a CA file that is not there.
  absl::StatusOr<std::unique_ptr<Lease>> plain = AcquireLease(poold->address(), WithCa(""));
  EXPECT_EQ(plain.status().code(), absl::StatusCode::kUnavailable) << plain.status();
  absl::StatusOr<std::unique_ptr<Lease>> other =
      AcquireLease(poold->address(), WithCa(dir_.Path("other/ca.pem")));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kUnavailable) << other.status();
  absl::StatusOr<std::unique_ptr<Lease>> missing =
      AcquireLease(poold->address(), WithCa(dir_.Path("nowhere.pem")));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument) << missing.status();
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "nowhere.pem")) << missing.status();
  // The pool itself is fine: the right CA still leases.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> good, AcquireLease(poold->address(), WithCa(Ca())));
}

TEST_F(TlsTest, AServerCertificateForAnotherHostIsRefusedByClients) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PooldProcess> poold, StartTlsPool("far"));
  absl::StatusOr<std::unique_ptr<Lease>> lease = AcquireLease(poold->address(), WithCa(Ca()));
  EXPECT_EQ(lease.status().code(), absl::StatusCode::kUnavailable) << lease.status();
}

TEST_F(TlsTest, PooldRefusesToServeAnExpiredOrMismatchedCertificate) {
  absl::StatusOr<std::unique_ptr<PooldProcess>> expired = StartTlsPool("stale");
  ASSERT_FALSE(expired.ok());
  EXPECT_TRUE(absl::StrContains(expired.status().message(), "has expired")) << expired.status();
  absl::StatusOr<std::unique_ptr<PooldProcess>> mismatched = PooldProcess::Start(
      {"--host_devices=1", "--tls_cert=" + Pem("poold"), "--tls_key=" + Key("node-b")});
  ASSERT_FALSE(mismatched.ok());
  EXPECT_TRUE(absl::StrContains(mismatched.status().message(), "is not the key of"))
      << mismatched.status();
}

// What an observer on the wire captures of a tenant's session, its bulk
// channel included: with TLS, neither its token nor its data; without, both
// (which shows the check sees them when they are there). Clients reach the
// node at 127.0.0.2, where two recording proxies relay its gRPC port and its
// bulk port to 127.0.0.1, as a network between them would.
TEST_F(TlsTest, TheWireCarriesNeitherTokensNorDataUnderTls) {
  struct Capture {
    std::string session, bulk;
  };
  auto session_through_proxy = [&](bool tls, bool bulk) -> Capture {
    const int port = FreeListenPort(), bulk_port = FreeListenPort(port);
    const std::string listen = absl::StrCat("127.0.0.1:", port);
    absl::StatusOr<std::unique_ptr<RecordingProxy>> proxy =
        RecordingProxy::Start(listen, absl::StrCat("127.0.0.2:", port));
    absl::StatusOr<std::unique_ptr<RecordingProxy>> bulk_proxy = RecordingProxy::Start(
        absl::StrCat("127.0.0.1:", bulk_port), absl::StrCat("127.0.0.2:", bulk_port));
    EXPECT_OK(proxy.status());
    EXPECT_OK(bulk_proxy.status());
    if (!proxy.ok() || !bulk_proxy.ok()) return {};
    std::vector<std::string> args = {
        "--host_devices=1", "--host_device_memory=256MiB", "--tenants=" + dir_.Path("tenants"),
        "--advertise_address=" + (*proxy)->address(), absl::StrCat("--bulk_port=", bulk_port)};
    if (tls) {
      args.insert(args.end(), {"--tls_cert=" + Pem("proxied"), "--tls_key=" + Key("proxied")});
    }
    absl::StatusOr<std::unique_ptr<PooldProcess>> poold = PooldProcess::Start(args, listen);
    EXPECT_OK(poold.status());
    if (!poold.ok()) return {};
    if (!bulk) setenv("ACCEL_POOL_BULK", "off", 1);
    absl::StatusOr<std::unique_ptr<Lease>> lease =
        AcquireLease((*proxy)->address(), WithCa(tls ? Ca() : ""));
    unsetenv("ACCEL_POOL_BULK");
    EXPECT_OK(lease.status());
    if (!lease.ok()) return {};
    const hal::Device& device = (*lease)->devices()[0];
    // A recognisable pattern, 1 MiB of it, there and back.
    std::string pattern;
    for (int i = 0; pattern.size() < (1u << 20); ++i) pattern += "SECRET-LEDGER-ROW-";
    pattern.resize(1 << 20);
    absl::StatusOr<hal::Buffer> buffer = device.Allocate(pattern.size());
    EXPECT_OK(buffer.status());
    if (!buffer.ok()) return {};
    EXPECT_OK(device.CopyToDevice(
        absl::MakeConstSpan(reinterpret_cast<const std::byte*>(pattern.data()), pattern.size()),
        *buffer));
    std::string back(pattern.size(), '\0');
    EXPECT_OK(device.CopyToHost(
        *buffer, absl::MakeSpan(reinterpret_cast<std::byte*>(back.data()), back.size())));
    EXPECT_EQ(back, pattern);
    lease->reset();
    // The copies did cross the proxy of the path under test, and only it.
    EXPECT_GT((bulk ? *bulk_proxy : *proxy)->bytes(), 2 * pattern.size()) << tls << bulk;
    if (bulk) {
      EXPECT_LT((*proxy)->bytes(), pattern.size()) << tls;
    }
    return {(*proxy)->recorded(), (*bulk_proxy)->recorded()};
  };
  for (bool bulk : {true, false}) {
    const Capture clear = session_through_proxy(/*tls=*/false, bulk);
    EXPECT_TRUE(absl::StrContains(clear.session, kTenantToken));
    EXPECT_TRUE(absl::StrContains(bulk ? clear.bulk : clear.session, "SECRET-LEDGER-ROW-"));
    const Capture encrypted = session_through_proxy(/*tls=*/true, bulk);
    for (const std::string* wire : {&encrypted.session, &encrypted.bulk}) {
      EXPECT_FALSE(absl::StrContains(*wire, kTenantToken)) << bulk;
      EXPECT_FALSE(absl::StrContains(*wire, "SECRET-LEDGER")) << bulk;
      EXPECT_FALSE(absl::StrContains(*wire, "authorization")) << bulk;
    }
  }
}

TEST_F(TlsTest, NodesJoinOnlyUnderTheNameTheirCertificateCarries) {
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<PooldProcess> coordinator,
      PooldProcess::Start({"--backends=none", "--node_name=coordinator",
                           "--tls_cert=" + Pem("poold"), "--tls_key=" + Key("poold"),
                           "--tls_client_ca=" + Ca(), "--tenants=" + dir_.Path("tenants")}));
  auto node = [&](const std::string& name, const std::string& cert,
                  std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"--coordinator=" + coordinator->address(),
                                     "--node_name=" + name, "--host_devices=1",
                                     "--host_device_memory=64MiB", "--allow_host_kernels"};
    if (!cert.empty()) {
      args.insert(args.end(),
                  {"--tls_cert=" + Pem(cert), "--tls_key=" + Key(cert), "--tls_client_ca=" + Ca()});
    }
    args.insert(args.end(), more.begin(), more.end());
    return PooldProcess::Start(args);
  };
  // node-b's certificate names node-b: it joins as node-b.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PooldProcess> b, node("node-b", "node-b"));
  EXPECT_TRUE(Eventually(
      [&] {
        std::vector<std::string> names = NodeNames(coordinator->address());
        return std::find(names.begin(), names.end(), "node-b") != names.end();
      },
      10));
  // Its sessions are TLS too: clients check node-b's certificate.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Lease> lease,
                       AcquireLease(coordinator->address(), WithCa(Ca())));
  ASSERT_OK(RunSaxpy(lease->devices()[0], 4096));
  lease.reset();
  // ...and only as node-b.
  absl::StatusOr<std::unique_ptr<PooldProcess>> impostor = node("node-c", "node-b");
  ASSERT_FALSE(impostor.ok());
  EXPECT_TRUE(absl::StrContains(impostor.status().message(), "cannot register as"))
      << impostor.status();
  // A node with the pool's CA but no certificate of its own is refused: the
  // pool admits nodes by certificate, not by where they call from.
  absl::StatusOr<std::unique_ptr<PooldProcess>> anonymous =
      node("node-d", "", {"--coordinator_tls_ca=" + Ca()});
  EXPECT_FALSE(anonymous.ok());
  std::vector<std::string> names = NodeNames(coordinator->address());
  EXPECT_EQ(std::count(names.begin(), names.end(), "node-c"), 0);
  EXPECT_EQ(std::count(names.begin(), names.end(), "node-d"), 0);
}

}  // namespace
}  // namespace accel::testing
