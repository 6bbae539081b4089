// Value types: byte sizes, signatures, format names.
#include "accel/hal/types.h"
#include "gtest/gtest.h"
#include "tests/common/status_matchers.h"

namespace accel::hal {
namespace {

TEST(ByteSizeTest, ParsesUnits) {
  EXPECT_EQ(*ParseByteSize("4096"), 4096u);
  EXPECT_EQ(*ParseByteSize("2GiB"), 2ull << 30);
  EXPECT_EQ(*ParseByteSize("512MiB"), 512ull << 20);
  EXPECT_EQ(*ParseByteSize("64k"), 64ull << 10);
  EXPECT_EQ(*ParseByteSize(" 1.5 G "), 3ull << 29);
  EXPECT_EQ(*ParseByteSize("1TiB"), 1ull << 40);
}

TEST(ByteSizeTest, RejectsNonsense) {
  EXPECT_STATUS(ParseByteSize(""), kInvalidArgument);
  EXPECT_STATUS(ParseByteSize("GiB"), kInvalidArgument);
  EXPECT_STATUS(ParseByteSize("12 parsecs"), kInvalidArgument);
  EXPECT_STATUS(ParseByteSize("-5"), kInvalidArgument);
  EXPECT_STATUS(ParseByteSize("99999999999TiB"), kInvalidArgument);
}

TEST(ByteSizeTest, FormatsHumanReadably) {
  EXPECT_EQ(FormatByteSize(0), "0 B");
  EXPECT_EQ(FormatByteSize(1536), "1.5 KiB");
  EXPECT_EQ(FormatByteSize(1ull << 30), "1 GiB");
}

TEST(SignatureTest, RoundTrips) {
  ASSERT_OK_AND_ASSIGN(std::vector<ArgKind> kinds,
                       ParseSignature("buffer,i32,u32,i64,u64,f32,f64,bytes"));
  EXPECT_EQ(kinds.size(), 8u);
  EXPECT_EQ(FormatSignature(kinds), "buffer,i32,u32,i64,u64,f32,f64,bytes");
  ASSERT_OK_AND_ASSIGN(kinds, ParseSignature(""));
  EXPECT_TRUE(kinds.empty());
  EXPECT_STATUS(ParseSignature("buffer,,u32"), kInvalidArgument);
  EXPECT_STATUS(ParseSignature("int"), kInvalidArgument);
}

TEST(ImageFormatTest, NamesRoundTrip) {
  for (const char* name : {"host-elf", "ptx", "cubin", "fatbin", "hsaco", "spirv"}) {
    ASSERT_OK_AND_ASSIGN(ImageFormat f, ParseImageFormat(name));
    EXPECT_EQ(ImageFormatName(f), name);
    EXPECT_TRUE(IsKnownImageFormat(static_cast<int32_t>(f)));
  }
  EXPECT_FALSE(IsKnownImageFormat(0));
  EXPECT_FALSE(IsKnownImageFormat(7));
}

}  // namespace
}  // namespace accel::hal
