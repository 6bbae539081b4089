// The node agent's admission, in process: a lease that ends while its
// session is being opened is refused, not left open with nobody to end it.
#include "pool/node/node_agent.h"

#include <vector>

#include "gtest/gtest.h"
#include "tests/common/status_is_matcher.h"

namespace accel::pool {
namespace {

using ::accel::testing::StatusIs;
using ::testing::HasSubstr;

class NullLink : public SessionLink {
 public:
  void Send(const v1::SessionResponse&) override {}
  void TrySend(const v1::SessionResponse&) override {}
  void Cut() override {}
};

// Admits every lease; `end_during_admission` makes the lease end between
// the admission and the session's registration, as a release racing the
// open would. Records session reports.
class RacingAuthority : public LeaseAuthority {
 public:
  absl::StatusOr<v1::LeaseInfo> Admit(const std::string& lease_id, const std::string&,
                                      const std::string& node) override {
    ++admissions;
    if (end_during_admission) agent->OnLeaseEnded(lease_id, absl::CancelledError("released"));
    v1::LeaseInfo lease;
    lease.set_lease_id(lease_id);
    lease.set_node(node);
    return lease;
  }
  void ReportUsage(const std::string&, const v1::LeaseUsage&) override {}
  void ReportSession(const std::string&, const std::string& lease_id, bool open) override {
    reports.push_back(lease_id + (open ? " open" : " closed"));
  }
  NodeAgent* agent = nullptr;
  bool end_during_admission = false;
  int admissions = 0;
  std::vector<std::string> reports;
};

TEST(NodeAgentTest, ALeaseThatEndsWhileItsSessionOpensIsRefused) {
  RacingAuthority authority;
  NodeAgent agent({}, {}, authority);
  authority.agent = &agent;

  authority.end_during_admission = true;
  EXPECT_THAT(agent.Open("l-1", "token", std::make_shared<NullLink>()).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("ended while opening")));
  EXPECT_TRUE(agent.OpenLeases().empty());
  EXPECT_EQ(authority.reports, std::vector<std::string>{"l-1 closed"});

  authority.end_during_admission = false;
  ASSERT_OK_AND_ASSIGN(auto session, agent.Open("l-2", "token", std::make_shared<NullLink>()));
  EXPECT_EQ(agent.OpenLeases(), std::vector<std::string>{"l-2"});
  EXPECT_EQ(authority.admissions, 2);  // one round trip to the coordinator each
  agent.Close(session);
  EXPECT_EQ(authority.reports.back(), "l-2 closed");
}

}  // namespace
}  // namespace accel::pool
