#include "pool/coordinator/node_tokens.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace accel::pool {

absl::StatusOr<std::map<std::string, std::string>> ParseNodeTokens(absl::string_view text) {
  std::map<std::string, std::string> tokens;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    auto fail = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("node tokens line ", number, ": ", why, ": '", line, "'"));
    };
    std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (words.size() != 3 || words[0] != "node" || !absl::StartsWith(words[2], "token_sha256=")) {
      return fail("expected 'node NAME token_sha256=HEX'");
    }
    const std::string name(words[1]);
    if (name.size() > 128 || name.find('/') != std::string::npos) {
      return fail("a node name is 1-128 characters without /");
    }
    std::string hash = absl::AsciiStrToLower(words[2].substr(13));
    if (hash.size() != 64 || hash.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return fail("token_sha256 must be 64 hex digits");
    }
    if (!tokens.emplace(name, std::move(hash)).second) return fail("node listed twice");
  }
  return tokens;
}

absl::StatusOr<std::map<std::string, std::string>> ReadNodeTokens(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read node token file ", path));
  std::stringstream text;
  text << in.rdbuf();
  return ParseNodeTokens(text.str());
}

}  // namespace accel::pool
