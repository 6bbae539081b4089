#include "pool/node/worker_log.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace accel::pool {

std::string WorkerLogLine(absl::string_view lease_id, absl::string_view line, size_t more) {
  std::string out = absl::StrCat("poold: lease ", lease_id, ": worker: ");
  if (line.size() > WorkerLog::kMaxLine) more += line.size() - WorkerLog::kMaxLine;
  for (unsigned char c : line.substr(0, WorkerLog::kMaxLine)) {
    if (c == '\\') {
      out += "\\\\";
    } else if ((c >= 0x20 && c < 0x7f) || c == '\t') {
      out += static_cast<char>(c);
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    }
  }
  if (more > 0) absl::StrAppend(&out, " [", more, " more bytes]");
  out += '\n';
  return out;
}

bool LogLineBudget::Take(Clock::time_point now) {
  if (last_) {
    const double seconds = std::chrono::duration<double>(now - *last_).count();
    tokens_ = std::min(kBurst, tokens_ + std::max(0.0, seconds) * kPerSecond);
  }
  last_ = now;
  if (tokens_ < 1) {
    ++dropped_;
    return false;
  }
  tokens_ -= 1;
  return true;
}

uint64_t LogLineBudget::TakeDropped() {
  const uint64_t dropped = dropped_;
  dropped_ = 0;
  return dropped;
}

WorkerLog::WorkerLog(std::string lease_id, int fd)
    : lease_id_(std::move(lease_id)), fd_(fd), thread_([this] { Relay(); }) {}

WorkerLog::~WorkerLog() {
  stopping_ = true;
  thread_.join();
  close(fd_);
}

void WorkerLog::Write(std::string line) {
  std::string out;
  if (const uint64_t dropped = budget_.TakeDropped(); dropped > 0) {
    out = absl::StrCat("poold: lease ", lease_id_, ": worker: (", dropped,
                       " more lines not shown: a worker's log is limited to ",
                       LogLineBudget::kPerSecond, " lines a second)\n");
  }
  out += line;
  // One write: lines of several workers never interleave.
  std::fwrite(out.data(), 1, out.size(), stderr);
  std::fflush(stderr);
}

void WorkerLog::Emit(absl::string_view line, size_t more) {
  if (budget_.Take(LogLineBudget::Clock::now())) Write(WorkerLogLine(lease_id_, line, more));
}

void WorkerLog::Relay() {
  std::string line;  // the line not yet ended: its first kMaxLine bytes,
  size_t more = 0;   // and how many bytes past those it has
  char chunk[4096];
  for (;;) {
    pollfd readable{fd_, POLLIN, 0};
    const int ready = poll(&readable, 1, 100);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      if (stopping_) break;
      continue;
    }
    const ssize_t n = ready < 0 ? -1 : read(fd_, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the worker is gone
    for (absl::string_view rest(chunk, static_cast<size_t>(n)); !rest.empty();) {
      const size_t end = rest.find('\n');
      const absl::string_view part = rest.substr(0, end);
      const size_t kept = std::min(part.size(), kMaxLine - line.size());
      line.append(part.data(), kept);
      more += part.size() - kept;
      if (end == absl::string_view::npos) break;
      Emit(line, more);
      line.clear();
      more = 0;
      rest.remove_prefix(end + 1);
    }
  }
  if (!line.empty() || more > 0) Emit(line, more);
  Write("");  // says what was held back at the end
}

}  // namespace accel::pool
