#include "pool/poold/node_config.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace accel::pool {
namespace {

// A label key or value: letters, digits, '-', '_', '.', '/'; keys non-empty.
bool ValidLabelText(absl::string_view text) {
  for (char c : text) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
        c != '/') {
      return false;
    }
  }
  return true;
}

bool ValidDeviceId(absl::string_view id) {
  std::vector<absl::string_view> parts = absl::StrSplit(id, ':');
  return parts.size() == 2 && !parts[0].empty() && !parts[1].empty() &&
         std::all_of(parts[1].begin(), parts[1].end(),
                     [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

absl::StatusOr<Labels> ParseLabels(absl::string_view text) {
  Labels labels;
  for (absl::string_view pair : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::vector<absl::string_view> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    absl::string_view key = absl::StripAsciiWhitespace(kv[0]);
    absl::string_view value = kv.size() == 2 ? absl::StripAsciiWhitespace(kv[1]) : "";
    if (kv.size() != 2 || key.empty() || !ValidLabelText(key) || !ValidLabelText(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad label '", pair, "' (want key=value of letters, digits, -_./)"));
    }
    labels[std::string(key)] = std::string(value);
  }
  return labels;
}

absl::StatusOr<NodeConfig> ParseNodeConfig(absl::string_view text) {
  NodeConfig config;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    auto fail = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("line ", number, ": ", why, ": '", line, "'"));
    };
    if (words[0] == "node_labels" && words.size() == 2) {
      absl::StatusOr<Labels> labels = ParseLabels(words[1]);
      if (!labels.ok()) return fail(labels.status().message());
      config.node_labels.insert(labels->begin(), labels->end());
    } else if (words[0] == "device_labels" && words.size() == 3) {
      if (!ValidDeviceId(words[1])) return fail("bad device id (want backend:index)");
      absl::StatusOr<Labels> labels = ParseLabels(words[2]);
      if (!labels.ok()) return fail(labels.status().message());
      config.device_labels[std::string(words[1])].insert(labels->begin(), labels->end());
    } else if (words[0] == "exclude" && words.size() == 2) {
      if (!ValidDeviceId(words[1])) return fail("bad device id (want backend:index)");
      config.excluded.insert(std::string(words[1]));
    } else {
      return fail("expected 'node_labels K=V,..', 'device_labels ID K=V,..' or 'exclude ID'");
    }
  }
  return config;
}

absl::StatusOr<NodeConfig> ReadNodeConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read node config ", path));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<NodeConfig> config = ParseNodeConfig(text.str());
  if (!config.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

}  // namespace accel::pool
