// The audit log's format on its own: records chain across reopening, and
// values a client chose cannot forge fields or lines.
#include "pool/common/audit_log.h"

#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "tests/common/scoped_temp_dir.h"
#include "tests/common/status_matchers.h"

namespace accel::pool {
namespace {

TEST(AuditLogTest, TheChainContinuesAcrossReopeningAndValuesStayInTheirField) {
  ::accel::testing::ScopedTempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.Path("audit.jsonl");
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<AuditLog> log, AuditLog::Open(path));
    log->Record("lease_granted", {{"holder", "x\",\"event\":\"forged\"\n{\"seq\":1}"}});
    log->Record("lease_ended", {{"lease", "l-1"}});
  }
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<AuditLog> log, AuditLog::Open(path));
    log->Record("node_lost", {{"node", "b"}});
    ASSERT_OK(log->status());
  }
  ASSERT_OK_AND_ASSIGN(uint64_t lines, VerifyAuditLog(path));
  EXPECT_EQ(lines, 3u);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str().find("\"event\":\"forged\""), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("\"seq\":3"), std::string::npos) << text.str();
}

}  // namespace
}  // namespace accel::pool
