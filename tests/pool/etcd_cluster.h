// A real etcd cluster on loopback for a test: members started as processes
// (Debian's etcd-server), each with its own client and peer port and data
// directory, killed and restarted at will, all gone with the test.
#ifndef ACCEL_TESTS_POOL_ETCD_CLUSTER_H_
#define ACCEL_TESTS_POOL_ETCD_CLUSTER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pool/common/tls.h"
#include "tests/common/scoped_temp_dir.h"

namespace accel::testing {

class EtcdCluster {
 public:
  // The etcd program, or "" when it is not installed (tests skip, saying so).
  static std::string Program();
  // Starts `members` members and waits (at most 30 s) until every one
  // answers a read. With `tls` (a certificate for 127.0.0.1 and its key,
  // and the CA that signed client certificates), clients must speak TLS
  // and present a certificate that CA signed.
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> Start(int members,
                                                            const pool::TlsFiles& tls = {});
  ~EtcdCluster();  // kills every member

  // poold's --state for this cluster: etcd://A,B,C/PREFIX.
  std::string StateUrl(const std::string& prefix) const;
  const std::vector<std::string>& endpoints() const { return endpoints_; }

  void Kill(int member);  // SIGKILL, as a crash
  // Starts a killed member again with its data; waits until it answers
  // (or, while the cluster has no quorum, just until it runs).
  absl::Status Restart(int member);
  // Waits at most `seconds` until `member` answers a read.
  absl::Status WaitUntilServing(int member, int seconds);
  // The end of a member's log, for failure messages.
  std::string LogTail(int member) const;

 private:
  EtcdCluster() = default;
  absl::Status StartMember(int member);

  ScopedTempDir dir_;
  std::vector<std::string> endpoints_;  // client URLs' host:port
  std::vector<int> peer_ports_;
  std::string initial_cluster_;
  pool::TlsFiles tls_;
  std::vector<pid_t> pids_;
};

}  // namespace accel::testing

#endif  // ACCEL_TESTS_POOL_ETCD_CLUSTER_H_
