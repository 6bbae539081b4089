#include "accel/hal/types.h"

#include <cctype>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace accel::hal {
namespace {

struct FormatName {
  ImageFormat format;
  absl::string_view name;
};
constexpr FormatName kFormats[] = {
    {ImageFormat::kHostElf, "host-elf"}, {ImageFormat::kPtx, "ptx"},
    {ImageFormat::kCubin, "cubin"},      {ImageFormat::kFatbin, "fatbin"},
    {ImageFormat::kHsaco, "hsaco"},      {ImageFormat::kSpirv, "spirv"},
};

struct KindName {
  ArgKind kind;
  absl::string_view name;
};
constexpr KindName kKinds[] = {
    {ArgKind::kBuffer, "buffer"}, {ArgKind::kI32, "i32"},     {ArgKind::kU32, "u32"},
    {ArgKind::kI64, "i64"},       {ArgKind::kU64, "u64"},     {ArgKind::kF32, "f32"},
    {ArgKind::kF64, "f64"},       {ArgKind::kBytes, "bytes"},
};

}  // namespace

absl::string_view ImageFormatName(ImageFormat format) {
  for (const FormatName& f : kFormats) {
    if (f.format == format) return f.name;
  }
  return "unknown";
}

absl::StatusOr<ImageFormat> ParseImageFormat(absl::string_view name) {
  for (const FormatName& f : kFormats) {
    if (f.name == name) return f.format;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown image format '", name,
                                                 "' (host-elf, ptx, cubin, fatbin, hsaco, spirv)"));
}

bool IsKnownImageFormat(int32_t value) {
  for (const FormatName& f : kFormats) {
    if (static_cast<int32_t>(f.format) == value) return true;
  }
  return false;
}

absl::string_view ArgKindName(ArgKind kind) {
  for (const KindName& k : kKinds) {
    if (k.kind == kind) return k.name;
  }
  return "unknown";
}

absl::StatusOr<std::vector<ArgKind>> ParseSignature(absl::string_view signature) {
  std::vector<ArgKind> kinds;
  if (absl::StripAsciiWhitespace(signature).empty()) return kinds;
  for (absl::string_view part : absl::StrSplit(signature, ',')) {
    part = absl::StripAsciiWhitespace(part);
    const KindName* found = nullptr;
    for (const KindName& k : kKinds) {
      if (k.name == part) found = &k;
    }
    if (found == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown argument kind '", part, "' in signature '", signature, "'"));
    }
    kinds.push_back(found->kind);
  }
  return kinds;
}

std::string FormatSignature(absl::Span<const ArgKind> kinds) {
  return absl::StrJoin(kinds, ",",
                       [](std::string* out, ArgKind k) { absl::StrAppend(out, ArgKindName(k)); });
}

absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  size_t digits = 0;
  while (digits < s.size() &&
         (std::isdigit(static_cast<unsigned char>(s[digits])) || s[digits] == '.')) {
    ++digits;
  }
  double number = 0;
  if (digits == 0 || !absl::SimpleAtod(s.substr(0, digits), &number)) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a byte size like 2GiB"));
  }
  std::string unit = absl::AsciiStrToLower(absl::StripAsciiWhitespace(s.substr(digits)));
  uint64_t scale = 0;
  if (unit.empty() || unit == "b") {
    scale = 1;
  } else if (unit == "k" || unit == "kb" || unit == "kib") {
    scale = uint64_t{1} << 10;
  } else if (unit == "m" || unit == "mb" || unit == "mib") {
    scale = uint64_t{1} << 20;
  } else if (unit == "g" || unit == "gb" || unit == "gib") {
    scale = uint64_t{1} << 30;
  } else if (unit == "t" || unit == "tb" || unit == "tib") {
    scale = uint64_t{1} << 40;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown size unit '", unit, "' in '", text, "' (B, KiB, MiB, GiB, TiB)"));
  }
  double bytes = number * static_cast<double>(scale);
  if (!(bytes < 18446744073709551615.0)) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is too large"));
  }
  return static_cast<uint64_t>(std::llround(bytes));
}

std::string FormatByteSize(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  if (unit == 0) return absl::StrCat(bytes, " B");
  return absl::StrFormat("%.4g %s", value, kUnits[unit]);
}

}  // namespace accel::hal
