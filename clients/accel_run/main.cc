// accel-run: runs an unmodified CUDA program on devices leased from the
// pool.
//
//   accel-run --pool HOST:PORT[,HOST:PORT...] [--devices N] [--memory SIZE] [--backend NAME]
//             [--token-file F] [--tls-ca F] [--tls-cert F --tls-key F] -- PROGRAM [ARGS...]
//
// It puts accelpool's libcuda.so.1 first on the program's library path and
// passes the lease's parameters in the ACCEL_POOL_* variables, then becomes
// the program (exec): the library leases at cuInit, and the lease ends with
// the program's process, however it ends (the node frees everything when
// the session's connection closes, a kill -9 included).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace {

int Usage(const char* why) {
  std::fprintf(stderr,
               "accel-run: %s\n"
               "usage: accel-run --pool HOST:PORT[,HOST:PORT...] [--devices N] [--memory SIZE] "
               "[--backend NAME] [--token-file F] [--tls-ca F] [--tls-cert F --tls-key F] "
               "-- PROGRAM [ARGS...]\n",
               why);
  return 2;
}

// Where accelpool's libcuda.so.1 is: $ACCEL_RUN_LIBCUDA_DIR, else beside
// this program's install (<prefix>/bin -> <libdir>/accelpool/cuda), else in
// its build tree (bin -> lib/accelpool/cuda).
std::string LibraryDirectory() {
  if (const char* dir = std::getenv("ACCEL_RUN_LIBCUDA_DIR"); dir != nullptr && *dir) return dir;
  char self[4096] = {};
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  std::string bin = n > 0 ? std::string(self, static_cast<size_t>(n)) : "";
  bin = bin.substr(0, bin.rfind('/'));
  for (const char* relative : {ACCEL_RUN_LIBCUDA_FROM_BINDIR, "../lib/accelpool/cuda"}) {
    const std::string dir = absl::StrCat(bin, "/", relative);
    if (access((dir + "/libcuda.so.1").c_str(), R_OK) == 0) return dir;
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  std::string pool, devices, memory, backend, token_file, tls_ca, tls_cert, tls_key;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    std::string* target = arg == "--pool"         ? &pool
                          : arg == "--devices"    ? &devices
                          : arg == "--memory"     ? &memory
                          : arg == "--backend"    ? &backend
                          : arg == "--token-file" ? &token_file
                          : arg == "--tls-ca"     ? &tls_ca
                          : arg == "--tls-cert"   ? &tls_cert
                          : arg == "--tls-key"    ? &tls_key
                                                  : nullptr;
    if (target == nullptr) return Usage(absl::StrCat("unknown option '", arg, "'").c_str());
    if (i + 1 >= argc) return Usage(absl::StrCat(arg, " needs a value").c_str());
    *target = argv[++i];
  }
  if (i >= argc) return Usage("no program to run (put it after --)");
  if (pool.empty()) {
    const char* env = std::getenv("ACCEL_POOL");
    if (env == nullptr || *env == '\0') return Usage("--pool (or ACCEL_POOL) is required");
    pool = env;
  }
  const std::string library = LibraryDirectory();
  if (library.empty()) {
    std::fprintf(stderr,
                 "accel-run: accelpool's libcuda.so.1 is not installed beside accel-run "
                 "(set ACCEL_RUN_LIBCUDA_DIR)\n");
    return 2;
  }
  setenv("ACCEL_POOL", pool.c_str(), 1);
  for (auto [value, name] :
       {std::pair{&devices, "ACCEL_POOL_DEVICES"}, std::pair{&memory, "ACCEL_POOL_MEMORY"},
        std::pair{&backend, "ACCEL_POOL_BACKEND"}, std::pair{&tls_ca, "ACCEL_POOL_TLS_CA"},
        std::pair{&tls_cert, "ACCEL_POOL_TLS_CERT"}, std::pair{&tls_key, "ACCEL_POOL_TLS_KEY"}}) {
    if (!value->empty()) setenv(name, value->c_str(), 1);
  }
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in) {
      std::fprintf(stderr, "accel-run: cannot read %s: %s\n", token_file.c_str(),
                   std::strerror(errno));
      return 2;
    }
    std::string token((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    setenv("ACCEL_POOL_TOKEN", std::string(absl::StripAsciiWhitespace(token)).c_str(), 1);
  }
  const char* old_path = std::getenv("LD_LIBRARY_PATH");
  const std::string path =
      old_path != nullptr && *old_path ? absl::StrCat(library, ":", old_path) : library;
  setenv("LD_LIBRARY_PATH", path.c_str(), 1);
  execvp(argv[i], argv + i);
  std::fprintf(stderr, "accel-run: cannot run %s: %s\n", argv[i], std::strerror(errno));
  return 127;
}
