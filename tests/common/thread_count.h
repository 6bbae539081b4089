// How many threads a process has now: for tests that prove a bound on them.
#ifndef ACCEL_TESTS_COMMON_THREAD_COUNT_H_
#define ACCEL_TESTS_COMMON_THREAD_COUNT_H_

#include <cstddef>
#include <filesystem>
#include <string>
#include <system_error>

namespace accel::testing {

// `pid` is "self" or a number; 0 when the process is gone.
inline size_t ThreadCount(const std::string& pid = "self") {
  std::error_code error;
  size_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/" + pid + "/task", error), end;
       !error && it != end; it.increment(error)) {
    ++n;
  }
  return n;
}

}  // namespace accel::testing

#endif  // ACCEL_TESTS_COMMON_THREAD_COUNT_H_
