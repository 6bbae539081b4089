#include "accel/hal/module_bundle.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace accel::hal {
namespace {

constexpr absl::string_view kMagic = "ACCELBDL";
constexpr uint32_t kVersion = 1;

// A bounds-checked reader: every read of a malformed bundle fails cleanly.
class Reader {
 public:
  explicit Reader(absl::string_view data) : data_(data) {}

  bool ReadU32(uint32_t* out) { return ReadRaw(out, 4); }
  bool ReadU64(uint64_t* out) { return ReadRaw(out, 8); }
  bool ReadBytes(uint64_t size, std::string* out) {
    if (size > data_.size() - pos_) return false;
    out->assign(data_.data() + pos_, size);
    pos_ += size;
    return true;
  }
  bool ReadString(std::string* out) {
    uint32_t size = 0;
    return ReadU32(&size) && ReadBytes(size, out);
  }
  bool AtEnd() const { return pos_ == data_.size(); }

 private:
  bool ReadRaw(void* out, size_t n) {
    if (n > data_.size() - pos_) return false;
    std::memcpy(out, data_.data() + pos_, n);  // the format is little-endian, as are our hosts
    pos_ += n;
    return true;
  }
  absl::string_view data_;
  size_t pos_ = 0;
};

void AppendU32(std::string* out, uint32_t v) { out->append(reinterpret_cast<const char*>(&v), 4); }
void AppendU64(std::string* out, uint64_t v) { out->append(reinterpret_cast<const char*>(&v), 8); }
void AppendString(std::string* out, absl::string_view s) {
  AppendU32(out, static_cast<uint32_t>(s.size()));
  out->append(s.data(), s.size());
}

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed module bundle: ", what));
}

}  // namespace

absl::StatusOr<ModuleBundle> ModuleBundle::Parse(absl::string_view bytes) {
  if (bytes.substr(0, kMagic.size()) != kMagic) return Malformed("bad magic");
  Reader r(bytes.substr(kMagic.size()));
  uint32_t version = 0, kernel_count = 0, image_count = 0;
  if (!r.ReadU32(&version) || !r.ReadU32(&kernel_count) || !r.ReadU32(&image_count)) {
    return Malformed("truncated header");
  }
  if (version != kVersion) {
    return Malformed(absl::StrCat("version ", version, " (this HAL reads ", kVersion, ")"));
  }
  ModuleBundle bundle;
  for (uint32_t i = 0; i < kernel_count; ++i) {
    std::string name, signature;
    if (!r.ReadString(&name) || !r.ReadString(&signature)) return Malformed("truncated kernel");
    if (absl::Status s = bundle.AddKernel(name, signature); !s.ok()) return Malformed(s.message());
  }
  for (uint32_t i = 0; i < image_count; ++i) {
    uint32_t format = 0;
    uint64_t size = 0;
    std::string arch, image;
    if (!r.ReadU32(&format) || !r.ReadString(&arch) || !r.ReadU64(&size) ||
        !r.ReadBytes(size, &image)) {
      return Malformed("truncated image");
    }
    if (!IsKnownImageFormat(static_cast<int32_t>(format))) {
      return Malformed(absl::StrCat("unknown image format ", format));
    }
    bundle.AddImage(static_cast<ImageFormat>(format), std::move(arch), std::move(image));
  }
  if (!r.AtEnd()) return Malformed("trailing bytes");
  return bundle;
}

absl::StatusOr<ModuleBundle> ModuleBundle::ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open module bundle ", path));
  std::stringstream contents;
  contents << in.rdbuf();
  absl::StatusOr<ModuleBundle> bundle = Parse(contents.str());
  if (!bundle.ok()) {
    return absl::Status(bundle.status().code(),
                        absl::StrCat(path, ": ", bundle.status().message()));
  }
  return bundle;
}

std::string ModuleBundle::Serialize() const {
  std::string out(kMagic);
  AppendU32(&out, kVersion);
  AppendU32(&out, static_cast<uint32_t>(kernels_.size()));
  AppendU32(&out, static_cast<uint32_t>(images_.size()));
  for (const auto& [name, kinds] : kernels_) {
    AppendString(&out, name);
    AppendString(&out, FormatSignature(kinds));
  }
  for (const Image& image : images_) {
    AppendU32(&out, static_cast<uint32_t>(image.format));
    AppendString(&out, image.arch);
    AppendU64(&out, image.bytes.size());
    out.append(image.bytes);
  }
  return out;
}

void ModuleBundle::AddImage(ImageFormat format, std::string arch, std::string bytes) {
  images_.push_back(Image{format, std::move(arch), std::move(bytes)});
}

absl::Status ModuleBundle::AddKernel(const std::string& name, absl::string_view signature) {
  if (name.empty()) return absl::InvalidArgumentError("kernel name is empty");
  absl::StatusOr<std::vector<ArgKind>> kinds = ParseSignature(signature);
  if (!kinds.ok()) return kinds.status();
  kernels_[name] = *std::move(kinds);
  return absl::OkStatus();
}

}  // namespace accel::hal
