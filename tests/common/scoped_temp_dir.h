// A fresh directory under /tmp for one test, removed with everything in it
// when the test is done.
#ifndef ACCEL_TESTS_COMMON_SCOPED_TEMP_DIR_H_
#define ACCEL_TESTS_COMMON_SCOPED_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace accel::testing {

class ScopedTempDir {
 public:
  ScopedTempDir() {
    char pattern[] = "/tmp/accel-test-XXXXXX";
    if (mkdtemp(pattern) != nullptr) path_ = pattern;
  }
  ~ScopedTempDir() {
    std::error_code ignored;  // a leftover in /tmp is no reason to fail a test
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  // `name` inside the directory.
  std::string Path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace accel::testing

#endif  // ACCEL_TESTS_COMMON_SCOPED_TEMP_DIR_H_
