// Who may administer a pool, seen from outside: no caller is an operator for
// the address it calls from. Over TCP an operator needs the operator token
// or an operator certificate; on the pool's host, the admin socket admits
// root and poold's user (the kernel checks), and nobody else.
#include <grp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/create_channel_posix.h>
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "accel/client/lease.h"
#include "gtest/gtest.h"
#include "pool/common/admin_socket_path.h"
#include "pool/common/frame_socket.h"
#include "tests/common/scoped_temp_dir.h"
#include "tests/common/status_matchers.h"
#include "tests/pool/pool_test_util.h"
#include "tests/pool/poold_process.h"
#include "tests/pool/recording_proxy.h"

namespace accel::testing {
namespace {

int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

// `poolctl --pool ADDRESS ARGS...`: its exit status and output.
std::pair<int, std::string> Poolctl(const std::string& address, std::vector<std::string> args) {
  args.insert(args.begin(), {"--pool", address});
  absl::StatusOr<std::pair<int, std::string>> run = RunProgram(ACCEL_TEST_POOLCTL, args);
  return run.ok() ? *run : std::make_pair(-1, run.status().ToString());
}

TEST(AdminAccessTest, OverTcpNoCallerIsAnOperatorForCallingFromLoopback) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PooldProcess> poold,
                       PooldProcess::Start({"--host_devices=1"}));
  // No operator token exists, and the caller is on 127.0.0.1: still no.
  grpc::ClientContext context;
  v1::DrainNodeRequest drain;
  drain.set_node("nobody-drains-this");
  v1::DrainNodeResponse drained;
  grpc::Status tcp = CoordinatorAt(poold->address())->DrainNode(&context, drain, &drained);
  EXPECT_EQ(tcp.error_code(), grpc::StatusCode::PERMISSION_DENIED) << tcp.error_message();
  auto [refused_code, refused] =
      Poolctl(poold->address(), {"--admin_socket", "none", "tenant", "create", "intruders"});
  EXPECT_NE(refused_code, 0);
  EXPECT_TRUE(absl::StrContains(refused, "operator calls need")) << refused;
  // The same calls through the admin socket, as this test's user (root, or
  // poold's own): an operator. poolctl finds the socket by the pool's port.
  ASSERT_FALSE(pool::FindAdminSocket(PortOf(poold->address())).empty()) << poold->startup_output();
  auto [made_code, made] = Poolctl(poold->address(), {"tenant", "create", "team"});
  EXPECT_EQ(made_code, 0) << made;
}

// Another user cannot even connect: the kernel refuses, before poold reads
// a byte. (The child connects itself, so nothing of the build needs to be
// readable by that user.)
TEST(AdminAccessTest, TheAdminSocketRefusesOtherUsers) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become another uid";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PooldProcess> poold,
                       PooldProcess::Start({"--host_devices=1"}));
  const std::string socket_path = pool::FindAdminSocket(PortOf(poold->address()));
  ASSERT_FALSE(socket_path.empty());
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  ASSERT_LT(socket_path.size(), sizeof(address.sun_path));
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  auto connect_as = [&](uid_t uid) {
    const pid_t child = fork();
    if (child == 0) {
      if (setgroups(0, nullptr) != 0 || setgid(uid) != 0 || setuid(uid) != 0) _exit(2);
      const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
      if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0) _exit(0);
      _exit(errno == EACCES ? 1 : 3);
    }
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  EXPECT_EQ(connect_as(65534), 1) << "uid 65534 was not refused with EACCES";
  EXPECT_EQ(connect_as(0), 0) << "root could not connect";
}

// Another user in --admin_group may connect, and every call it makes is
// audited under its own uid, which the kernel vouches for. The child only
// connects (as uid 65534) and hands the connection back, as the node hands
// sockets to workers; the calls on it still carry the child's credentials.
TEST(AdminAccessTest, TheAuditNamesTheAdminSocketsUserOfEachCall) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become another uid";
  const group* nogroup = getgrgid(65534);
  ASSERT_NE(nogroup, nullptr) << "no group 65534";
  ScopedTempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<PooldProcess> poold,
      PooldProcess::Start({"--host_devices=1", "--admin_group=" + std::string(nogroup->gr_name),
                           "--audit_log=" + dir.Path("audit.log")}));
  const std::string socket_path = pool::FindAdminSocket(PortOf(poold->address()));
  ASSERT_FALSE(socket_path.empty());
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  const pid_t child = fork();
  if (child == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) _exit(3);
    _exit(pool::FrameSocket(pair[1]).Write(v1::Status(), fd).ok() ? 0 : 4);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  close(pair[1]);
  pool::FrameSocket from_child(pair[0]);
  v1::Status frame;
  ASSERT_OK(from_child.Read(frame));
  const int connected = from_child.TakeDescriptor();
  ASSERT_GE(connected, 0);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateInsecureChannelFromFd("admin-socket", connected);
  auto stub = v1::Coordinator::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::PutTenantRequest put;
  put.mutable_tenant()->set_name("nightly");
  put.set_create(true);
  v1::PutTenantResponse made;
  grpc::Status created = stub->PutTenant(&context, put, &made);
  ASSERT_TRUE(created.ok()) << created.error_message();
  // And root's own call, through poolctl, is root's.
  auto [root_code, root_out] = Poolctl(poold->address(), {"tenant", "create", "daily"});
  ASSERT_EQ(root_code, 0) << root_out;
  std::ifstream in(dir.Path("audit.log"));
  const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(absl::StrContains(log, "\"by\":\"admin socket uid 65534")) << log;
  EXPECT_TRUE(absl::StrContains(log, "\"by\":\"admin socket uid 0 (root)")) << log;
}

// A same-host forwarder (socat, an SSH tunnel, a sidecar) makes a remote
// caller look local: through one, nobody gets operator rights or joins as a
// node.
TEST(AdminAccessTest, ThroughAForwarderNobodyAdministersOrJoins) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PooldProcess> poold,
                       PooldProcess::Start({"--host_devices=1", "--backends=host"}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RecordingProxy> forwarder,
                       RecordingProxy::Start(poold->address()));
  // poolctl finds no admin socket for the forwarder's port: it goes by TCP.
  auto [code, out] = Poolctl(forwarder->address(), {"cordon", "vm"});
  EXPECT_NE(code, 0);
  EXPECT_TRUE(absl::StrContains(out, "operator calls need")) << out;
  ASSERT_OK_AND_ASSIGN(auto joined,
                       RunProgram(ACCEL_TEST_POOLD,
                                  {"--listen=127.0.0.1:0", "--coordinator=" + forwarder->address(),
                                   "--node_name=fake-h100", "--host_devices=1"},
                                  20));
  EXPECT_NE(joined.first, 0);
  EXPECT_TRUE(absl::StrContains(joined.second, "admits nodes by join token")) << joined.second;
  EXPECT_EQ(NodeState(poold->address(), "fake-h100"), "absent");
}

// The same from another network namespace, as a remote host would: there,
// the pool is reachable only through a forwarder on its host (here, the
// namespace's 127.0.0.1:7000 relayed to a Unix socket whose other end, in the
// host's network, connects to poold on loopback).
TEST(AdminAccessTest, FromAnotherNetworkNamespaceThroughAForwarderNobodyAdministersOrJoins) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PooldProcess> poold,
                       PooldProcess::Start({"--host_devices=1", "--backends=host"}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RecordingProxy> forwarder,
                       RecordingProxy::StartOnUnixSocket(poold->address(), dir.Path("fwd.sock")));
  auto in_namespace = [&](std::vector<std::string> command) {
    command.insert(command.begin(), {dir.Path("fwd.sock"), "7000", "--"});
    absl::StatusOr<std::pair<int, std::string>> run =
        RunProgram(ACCEL_TEST_NETNS_FORWARDER, command, 30);
    return run.ok() ? *run : std::make_pair(-1, run.status().ToString());
  };
  auto [isolated, why] = in_namespace({"/bin/true"});
  if (isolated == 77) GTEST_SKIP() << "cannot make a network namespace here: " << why;
  ASSERT_EQ(isolated, 0) << why;
  // The namespace reaches the pool (a read-only call works: the forwarder
  // carries it) but gets no operator rights.
  auto [listed, nodes] = in_namespace({ACCEL_TEST_POOLCTL, "--pool", "127.0.0.1:7000", "nodes"});
  EXPECT_EQ(listed, 0) << nodes;
  EXPECT_GT(forwarder->bytes(), 0u);
  auto [cordoned, refused] = in_namespace(
      {ACCEL_TEST_POOLCTL, "--pool", "127.0.0.1:7000", "tenant", "create", "intruders"});
  EXPECT_NE(cordoned, 0);
  EXPECT_TRUE(absl::StrContains(refused, "operator calls need")) << refused;
  auto [joined, join_out] =
      in_namespace({ACCEL_TEST_POOLD, "--listen=127.0.0.1:0", "--coordinator=127.0.0.1:7000",
                    "--node_name=fake-h100", "--host_devices=1"});
  EXPECT_NE(joined, 0);
  EXPECT_TRUE(absl::StrContains(join_out, "admits nodes by join token")) << join_out;
  EXPECT_EQ(NodeState(poold->address(), "fake-h100"), "absent");
}

// An operator certificate (poold --operator_cn) is an operator's credential
// over TCP, verified against the pool's CA.
TEST(AdminAccessTest, AnOperatorCertificateAdministersOverTcp) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_OK_AND_ASSIGN(
      auto made, RunProgram("/usr/bin/env",
                            {"bash", ACCEL_TEST_MAKE_CA, dir.Path("pki"), "poold", "ops", "dev"}));
  ASSERT_EQ(made.first, 0) << made.second;
  const std::string pki = dir.Path("pki");
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<PooldProcess> poold,
      PooldProcess::Start({"--host_devices=1", "--tls_cert=" + pki + "/poold.pem",
                           "--tls_key=" + pki + "/poold.key", "--tls_client_ca=" + pki + "/ca.pem",
                           "--operator_cn=ops"}));
  const v1::ListNodesResponse nodes = Nodes(poold->address());  // via the admin socket
  ASSERT_EQ(nodes.nodes_size(), 1);
  const std::string node = nodes.nodes(0).name();
  auto as = [&](const std::string& who) {
    return Poolctl(poold->address(), {"--admin_socket", "none", "--tls_ca", pki + "/ca.pem",
                                      "--tls_cert", pki + "/" + who + ".pem", "--tls_key",
                                      pki + "/" + who + ".key", "cordon", node});
  };
  auto [ops_code, ops] = as("ops");
  EXPECT_EQ(ops_code, 0) << ops;
  auto [dev_code, dev] = as("dev");  // signed by the same CA, but not an operator
  EXPECT_NE(dev_code, 0);
  EXPECT_TRUE(absl::StrContains(dev, "operator calls need")) << dev;
}

// What a client writes into a lease (its holder string) reaches an
// operator's terminal escaped; tokens come from a file, not the command line.
TEST(AdminAccessTest, PoolctlEscapesWhatClientsWroteAndReadsTokensFromFiles) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.ok());
  std::ofstream(dir.Path("operator")) << "operator-token-for-poolctl-31\n";
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<PooldProcess> poold,
      PooldProcess::Start({"--host_devices=1", "--operator_token_file=" + dir.Path("operator")}));
  client::LeaseRequest request;
  request.holder = "\x1b]0;owned\x07\x1b[2Jjob";  // retitles and clears a terminal, raw
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<client::Lease> lease,
                       client::AcquireLease(poold->address(), request));
  auto [code, out] = Poolctl(
      poold->address(), {"--admin_socket", "none", "--token_file", dir.Path("operator"), "leases"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_NE(out.find("\\x1b]0;owned\\x07"), std::string::npos) << out;
  EXPECT_EQ(out.find("warning"), std::string::npos) << out;
  auto [flag_code, flag_out] =
      Poolctl(poold->address(),
              {"--admin_socket", "none", "--token", "operator-token-for-poolctl-31", "nodes"});
  EXPECT_EQ(flag_code, 0) << flag_out;
  EXPECT_NE(flag_out.find("visible to every user"), std::string::npos) << flag_out;
}

}  // namespace
}  // namespace accel::testing
