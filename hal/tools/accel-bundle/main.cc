// accel-bundle: packs one kernel set, built for several image formats, into a
// module bundle file.
//
//   accel-bundle -o OUT.bundle [--image FORMAT:ARCH:PATH]... [--kernel NAME=SIGNATURE]...
//                [--signatures-from HOST_ELF_PATH]
//
// --signatures-from reads the kernel signatures from a host-elf image's kernel
// table, so the kernel set's host source is the one place they are written.
#include <dlfcn.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_split.h"
#include "accel/hal/host_kernel_abi.h"
#include "accel/hal/module_bundle.h"

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "accel-bundle: %s\n", message.c_str());
  return 1;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream s;
  s << in.rdbuf();
  *out = s.str();
  return true;
}

absl::Status AddSignaturesFrom(const std::string& path, accel::hal::ModuleBundle* bundle) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr)
    return absl::NotFoundError(std::string("cannot load ") + path + ": " + dlerror());
  auto table = reinterpret_cast<const AccelHostKernelDesc* (*)(size_t*)>(
      dlsym(handle, ACCEL_HOST_MODULE_KERNELS_SYMBOL));
  absl::Status status;
  if (table == nullptr) {
    status = absl::InvalidArgumentError(path + " has no host kernel table");
  } else {
    size_t count = 0;
    const AccelHostKernelDesc* kernels = table(&count);
    for (size_t i = 0; i < count && status.ok(); ++i) {
      if (kernels[i].signature != nullptr)
        status = bundle->AddKernel(kernels[i].name, kernels[i].signature);
    }
  }
  dlclose(handle);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  accel::hal::ModuleBundle bundle;
  std::string output;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return Fail("missing value after " + flag);
    std::string value = argv[++i];
    if (flag == "-o") {
      output = value;
    } else if (flag == "--image") {
      std::vector<std::string> parts = absl::StrSplit(value, absl::MaxSplits(':', 2));
      if (parts.size() != 3) return Fail("--image wants FORMAT:ARCH:PATH, got " + value);
      absl::StatusOr<accel::hal::ImageFormat> format = accel::hal::ParseImageFormat(parts[0]);
      if (!format.ok()) return Fail(std::string(format.status().message()));
      std::string bytes;
      if (!ReadFile(parts[2], &bytes)) return Fail("cannot read " + parts[2]);
      bundle.AddImage(*format, parts[1], std::move(bytes));
    } else if (flag == "--kernel") {
      std::vector<std::string> parts = absl::StrSplit(value, absl::MaxSplits('=', 1));
      if (parts.size() != 2) return Fail("--kernel wants NAME=SIGNATURE, got " + value);
      if (absl::Status s = bundle.AddKernel(parts[0], parts[1]); !s.ok()) return Fail(s.ToString());
    } else if (flag == "--signatures-from") {
      if (absl::Status s = AddSignaturesFrom(value, &bundle); !s.ok()) return Fail(s.ToString());
    } else {
      return Fail("unknown flag " + flag);
    }
  }
  if (output.empty())
    return Fail(
        "usage: accel-bundle -o OUT [--image FORMAT:ARCH:PATH]... [--kernel NAME=SIG]... "
        "[--signatures-from HOST_ELF]");
  std::ofstream out(output, std::ios::binary | std::ios::trunc);
  std::string bytes = bundle.Serialize();
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) return Fail("cannot write " + output);
  return 0;
}
