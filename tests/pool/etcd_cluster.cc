#include "tests/pool/etcd_cluster.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "pool/coordinator/etcd_client.h"
#include "tests/pool/poold_process.h"

namespace accel::testing {

std::string EtcdCluster::Program() {
  for (const char* path : {"/usr/bin/etcd", "/usr/local/bin/etcd"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "";
}

absl::StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(int members,
                                                                const pool::TlsFiles& tls) {
  if (Program().empty()) return absl::NotFoundError("etcd is not installed");
  std::unique_ptr<EtcdCluster> cluster(new EtcdCluster());
  cluster->tls_ = tls;
  if (!cluster->dir_.ok()) return absl::InternalError("cannot make a directory for etcd");
  std::set<int> taken;
  std::vector<std::string> peers;
  for (int m = 0; m < members; ++m) {
    const int client = FreeListenPort(taken);
    taken.insert(client);
    const int peer = FreeListenPort(taken);
    taken.insert(peer);
    cluster->endpoints_.push_back(absl::StrCat("127.0.0.1:", client));
    cluster->peer_ports_.push_back(peer);
    peers.push_back(absl::StrCat("m", m, "=http://127.0.0.1:", peer));
  }
  cluster->initial_cluster_ = absl::StrJoin(peers, ",");
  cluster->pids_.assign(members, 0);
  for (int m = 0; m < members; ++m) {
    if (absl::Status s = cluster->StartMember(m); !s.ok()) return s;
  }
  for (int m = 0; m < members; ++m) {
    if (absl::Status s = cluster->WaitUntilServing(m, 30); !s.ok()) return s;
  }
  return cluster;
}

EtcdCluster::~EtcdCluster() {
  for (size_t m = 0; m < pids_.size(); ++m) Kill(static_cast<int>(m));
}

absl::Status EtcdCluster::StartMember(int member) {
  const std::string client =
      absl::StrCat(tls_.empty() ? "http://" : "https://", endpoints_[member]);
  const std::string peer = absl::StrCat("http://127.0.0.1:", peer_ports_[member]);
  std::vector<std::string> args = {
      absl::StrCat("--name=m", member), "--data-dir=" + dir_.Path(absl::StrCat("m", member)),
      "--listen-client-urls=" + client, "--advertise-client-urls=" + client,
      "--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
      "--initial-cluster=" + initial_cluster_, "--initial-cluster-state=new",
      "--initial-cluster-token=accelpool-test",
      // etcd's defaults (100 ms heartbeats, 1 s elections), said out loud:
      // the tests' timing depends on them.
      "--heartbeat-interval=100", "--election-timeout=1000"};
  if (!tls_.empty()) {
    args.insert(args.end(), {"--cert-file=" + tls_.cert, "--key-file=" + tls_.key,
                             "--trusted-ca-file=" + tls_.ca, "--client-cert-auth"});
  }
  absl::StatusOr<pid_t> pid =
      StartBackground(Program(), args, dir_.Path(absl::StrCat("m", member, ".log")));
  if (!pid.ok()) return pid.status();
  pids_[member] = *pid;
  return absl::OkStatus();
}

void EtcdCluster::Kill(int member) {
  if (pids_[member] <= 0) return;
  kill(pids_[member], SIGKILL);
  WaitForExit(pids_[member], 10);
  pids_[member] = 0;
}

absl::Status EtcdCluster::Restart(int member) {
  if (pids_[member] > 0) return absl::FailedPreconditionError("the member is running");
  return StartMember(member);
}

absl::Status EtcdCluster::WaitUntilServing(int member, int seconds) {
  pool::EtcdClient::Options options;
  options.location.endpoints = {endpoints_[member]};
  options.call_timeout = std::chrono::milliseconds(1000);
  options.tls = tls_;  // the member's own certificate is a client one too
  absl::StatusOr<std::unique_ptr<pool::EtcdClient>> client =
      pool::EtcdClient::Connect(std::move(options));
  if (!client.ok()) return client.status();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  absl::Status last;
  while (std::chrono::steady_clock::now() < deadline) {
    etcdserverpb::RangeRequest request;
    request.set_key("/health-check");
    absl::StatusOr<etcdserverpb::RangeResponse> read = (*client)->Range(request);
    if (read.ok()) return absl::OkStatus();
    last = read.status();
    if (WaitForExit(pids_[member], 0) >= 0) {
      pids_[member] = 0;
      return absl::InternalError(
          absl::StrCat("etcd member ", member, " exited: ", LogTail(member)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat("etcd member ", member, " did not serve in ",
                                                  seconds, " s (", last.message(),
                                                  "): ", LogTail(member)));
}

std::string EtcdCluster::LogTail(int member) const {
  std::ifstream in(dir_.Path(absl::StrCat("m", member, ".log")));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > 1500 ? "..." + text.substr(text.size() - 1500) : text;
}

std::string EtcdCluster::StateUrl(const std::string& prefix) const {
  return absl::StrCat("etcd://", absl::StrJoin(endpoints_, ","), prefix);
}

}  // namespace accel::testing
