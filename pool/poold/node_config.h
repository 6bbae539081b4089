// The operator's node configuration file: labels for the node and its
// devices, and devices to keep out of the pool. One statement a line:
//
//   # comment
//   node_labels zone=a,team=risk
//   device_labels cuda:0 domestic=false,model=h100
//   exclude host:1
//
// Device ids are the HAL's "<backend>:<index>" as accel-info prints them.
#ifndef ACCEL_POOL_POOLD_NODE_CONFIG_H_
#define ACCEL_POOL_POOLD_NODE_CONFIG_H_

#include <map>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace accel::pool {

using Labels = std::map<std::string, std::string>;

struct NodeConfig {
  Labels node_labels;
  std::map<std::string, Labels> device_labels;  // by device id
  std::set<std::string> excluded;               // device ids
};

// "k=v,k2=v2" -> labels; INVALID_ARGUMENT on a malformed pair.
absl::StatusOr<Labels> ParseLabels(absl::string_view text);
// INVALID_ARGUMENT naming the line on a malformed file.
absl::StatusOr<NodeConfig> ParseNodeConfig(absl::string_view text);
absl::StatusOr<NodeConfig> ReadNodeConfig(const std::string& path);

}  // namespace accel::pool

#endif  // ACCEL_POOL_POOLD_NODE_CONFIG_H_
