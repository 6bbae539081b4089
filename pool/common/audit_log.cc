#include "pool/common/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "pool/common/sha256.h"

namespace accel::pool {
namespace {

constexpr char kHashField[] = ",\"hash\":\"";
const std::string kGenesis(64, '0');

std::string Hex(absl::string_view bytes) { return absl::BytesToHexString(bytes); }

// A JSON string: quotes, backslashes and control characters escaped, so a
// client-chosen holder string cannot forge fields or lines.
std::string Quoted(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      absl::StrAppend(&out, "\\u00", absl::BytesToHexString(std::string(1, static_cast<char>(c))));
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// The value of `"name":"..."` in a line we wrote (hex or digits only).
std::string Field(absl::string_view line, absl::string_view name) {
  const std::string key = absl::StrCat("\"", name, "\":");
  size_t at = line.find(key);
  if (at == absl::string_view::npos) return "";
  at += key.size();
  if (at < line.size() && line[at] == '"') ++at;
  size_t end = at;
  while (end < line.size() && line[end] != '"' && line[end] != ',' && line[end] != '}') ++end;
  return std::string(line.substr(at, end - at));
}

// Checks one line against the chain so far; returns its hash.
absl::StatusOr<std::string> CheckLine(absl::string_view line, const std::string& prev,
                                      uint64_t number) {
  const size_t hash_at = line.rfind(kHashField);
  auto broken = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("audit log line ", number, " ", why,
                                            ": it was edited, or lines were dropped, inserted "
                                            "or reordered before it"));
  };
  if (hash_at == absl::string_view::npos) return broken("has no hash");
  const std::string hash = Field(line.substr(hash_at + 1), "hash");
  if (hash != Hex(Sha256(line.substr(0, hash_at)))) return broken("does not match its hash");
  if (Field(line, "prev") != prev) return broken("does not follow the line before it");
  return hash;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path) {
  absl::StatusOr<uint64_t> lines = uint64_t{0};
  std::string prev = kGenesis;
  if (access(path.c_str(), F_OK) == 0) {
    lines = VerifyAuditLog(path);
    if (!lines.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the audit log ", path, " is broken (", lines.status().message(),
                       "); keep it as evidence and start a new one"));
    }
    std::ifstream in(path);
    std::string line, last;
    while (std::getline(in, line)) last = line;
    if (!last.empty()) prev = Field(last.substr(last.rfind(kHashField) + 1), "hash");
  }
  const int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  std::FILE* file = fd >= 0 ? fdopen(fd, "a") : nullptr;
  if (file == nullptr) {
    if (fd >= 0) close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open the audit log ", path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<AuditLog>(new AuditLog(file, *lines, std::move(prev)));
}

AuditLog::~AuditLog() { std::fclose(file_); }

void AuditLog::Record(absl::string_view event, const Fields& fields) {
  absl::MutexLock lock(&mu_);
  std::string line = absl::StrCat(
      "{\"seq\":", seq_ + 1, ",\"time\":",
      Quoted(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone())),
      ",\"event\":", Quoted(event));
  for (const auto& [key, value] : fields)
    absl::StrAppend(&line, ",", Quoted(key), ":", Quoted(value));
  absl::StrAppend(&line, ",\"prev\":\"", prev_, "\"");
  const std::string hash = Hex(Sha256(line));
  absl::StrAppend(&line, kHashField, hash, "\"}\n");
  if (std::fputs(line.c_str(), file_) < 0 || std::fflush(file_) != 0) {
    if (status_.ok()) {
      status_ =
          absl::DataLossError(absl::StrCat("cannot write the audit log: ", std::strerror(errno)));
      std::fprintf(stderr, "poold: %s\n", status_.ToString().c_str());
    }
    return;
  }
  ++seq_;
  prev_ = hash;
}

absl::Status AuditLog::status() {
  absl::MutexLock lock(&mu_);
  return status_;
}

absl::StatusOr<uint64_t> VerifyAuditLog(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the audit log ", path, ": ", std::strerror(errno)));
  }
  std::string line, prev = kGenesis;
  uint64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    absl::StatusOr<std::string> hash = CheckLine(line, prev, number);
    if (!hash.ok()) return hash.status();
    prev = *std::move(hash);
  }
  return number;
}

}  // namespace accel::pool
