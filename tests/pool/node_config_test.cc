// The operator's node config: parsing, and a real poold applying it.
#include <fstream>

#include "accel/client/lease.h"
#include "gtest/gtest.h"
#include "pool/poold/node_config.h"
#include "tests/common/status_matchers.h"
#include "tests/pool/pool_test_util.h"
#include "tests/pool/poold_process.h"

namespace accel::testing {
namespace {

using pool::NodeConfig;
using pool::ParseNodeConfig;

TEST(NodeConfigTest, ParsesEveryStatement) {
  ASSERT_OK_AND_ASSIGN(NodeConfig config, ParseNodeConfig(R"(
    # a bank's GPU server
    node_labels zone=a,team=risk
    device_labels cuda:0 domestic=false,model=h100
    device_labels rocm:1 domestic=true
    exclude host:1
  )"));
  EXPECT_EQ(config.node_labels.at("zone"), "a");
  EXPECT_EQ(config.node_labels.at("team"), "risk");
  EXPECT_EQ(config.device_labels.at("cuda:0").at("model"), "h100");
  EXPECT_EQ(config.device_labels.at("rocm:1").at("domestic"), "true");
  EXPECT_EQ(config.excluded.count("host:1"), 1u);
}

TEST(NodeConfigTest, RejectsMalformedLinesNamingThem) {
  for (const char* bad : {"node_labels zone", "node_labels =a", "device_labels cuda0 a=b",
                          "device_labels cuda:x a=b", "exclude", "exclude host", "colour red",
                          "node_labels zone=a b=c", "node_labels zone=a;rm"}) {
    absl::StatusOr<NodeConfig> config = ParseNodeConfig(absl::StrCat("# ok\n", bad, "\n"));
    EXPECT_STATUS(config, kInvalidArgument) << bad;
    EXPECT_NE(config.status().message().find("line 2"), std::string::npos) << config.status();
  }
  EXPECT_STATUS(pool::ReadNodeConfig("/nonexistent/node.conf"), kNotFound);
}

TEST(NodeConfigTest, PooldAppliesLabelsAndExclusions) {
  std::string path = ::testing::TempDir() + "/accelpool_node.conf";
  {
    std::ofstream out(path);
    out << "node_labels zone=b\ndevice_labels host:0 team=quant\nexclude host:1\n";
  }
  ASSERT_OK_AND_ASSIGN(auto poold, PooldProcess::Start({"--allow_host_kernels", "--host_devices=3",
                                                        "--config=" + path}));
  v1::ListDevicesResponse devices = Devices(poold->address());
  ASSERT_EQ(devices.devices_size(), 2);  // host:1 is kept out
  for (const v1::DeviceInfo& d : devices.devices()) {
    EXPECT_NE(d.index(), 1u);
    EXPECT_EQ(d.labels().at("zone"), "b");
    EXPECT_EQ(d.labels().count("team"), d.index() == 0 ? 1u : 0u);
  }
  client::LeaseRequest quant;
  quant.labels = {{"team", "quant"}};
  ASSERT_OK_AND_ASSIGN(auto lease, client::AcquireLease(poold->address(), quant));
  EXPECT_NE(lease->devices()[0].properties().name.find("host:0"), std::string::npos);
  EXPECT_STATUS(client::AcquireLease(poold->address(), quant), kResourceExhausted);
}

TEST(NodeConfigTest, PooldRefusesABadConfigClearly) {
  std::string path = ::testing::TempDir() + "/accelpool_bad.conf";
  {
    std::ofstream out(path);
    out << "node_labels zone=a\nexclude nonsense\n";
  }
  ASSERT_OK_AND_ASSIGN(auto result, RunProgram(ACCEL_TEST_POOLD, {"--config=" + path}));
  EXPECT_EQ(result.first, 1);
  ASSERT_OK_AND_ASSIGN(auto missing, RunProgram(ACCEL_TEST_POOLD, {"--exclude_devices=host:99"}));
  EXPECT_EQ(missing.first, 1);
}

}  // namespace
}  // namespace accel::testing
