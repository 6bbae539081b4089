// Kernel parameter layouts read from the images nvcc builds here (a cubin,
// PTX and a fat binary of param_kernels.cu) agree with each other and with
// the C++ layout of the same types, and packing puts each argument's bytes
// at its offset. Malformed images are refused, never overread.
#include "clients/cuda_driver/kernel_params.h"

#include <cstddef>
#include <fstream>
#include <iterator>
#include <string>

#include "gtest/gtest.h"
#include "tests/common/status_matchers.h"
#include "tests/cuda_driver/param_kernel_types.h"

namespace accel::cuda_driver {
namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// What C++ says for each kernel's parameters, laid out in order with their
// alignments: what nvcc does too.
ParamLayouts Expected() {
  return {
      {"scalars", {{{0, 4}, {4, 4}, {8, 8}, {16, 1}, {24, 8}}, 32}},
      {"pointers", {{{0, 8}, {8, 8}, {16, 4}}, 20}},
      {"structs",
       {{{0, sizeof(Pair)}, {16, sizeof(Small)}, {20, 1}, {24, sizeof(Pair)}}, 24 + sizeof(Pair)}},
      {"aligned", {{{0, 1}, {8, 8}, {16, 1}, {32, 16}}, 48}},
      {"none", {{}, 0}},
      {"uses_scratch", {{{0, 4}}, 4}},
  };
}

class KernelParamsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ACCEL_TEST_HAVE_NVCC) GTEST_SKIP() << "nvcc was not found at build time: no images";
  }
};

TEST_F(KernelParamsTest, CubinLayoutsAreTheCppLayouts) {
  ASSERT_OK_AND_ASSIGN(ParamLayouts layouts,
                       ParamLayoutsFromCubin(ReadFile(ACCEL_TEST_PARAM_CUBIN)));
  for (const auto& [name, expected] : Expected()) {
    ASSERT_EQ(layouts.count(name), 1u) << name;
    EXPECT_EQ(layouts[name].params, expected.params) << name;
    // The cubin states the buffer's size; for a kernel without parameters it
    // may say nothing.
    if (!expected.params.empty()) {
      EXPECT_EQ(layouts[name].total_size, expected.total_size) << name;
    }
  }
}

TEST_F(KernelParamsTest, PtxLayoutsAreTheCppLayouts) {
  ASSERT_OK_AND_ASSIGN(ParamLayouts layouts, ParamLayoutsFromPtx(ReadFile(ACCEL_TEST_PARAM_PTX)));
  EXPECT_EQ(layouts, Expected());
}

TEST_F(KernelParamsTest, AFatBinaryHasTheSameLayouts) {
  const std::string fatbin = ReadFile(ACCEL_TEST_PARAM_FATBIN);
  ASSERT_OK_AND_ASSIGN(ParamLayouts layouts, ParamLayoutsOf(fatbin));
  for (const auto& [name, expected] : Expected()) {
    ASSERT_EQ(layouts.count(name), 1u) << name;
    EXPECT_EQ(layouts[name].params, expected.params) << name;
  }
  // Its extent is read from its own header, as the runtime passes no size.
  ASSERT_OK_AND_ASSIGN(absl::string_view extent, ImageExtent(fatbin.data(), fatbin.size()));
  EXPECT_EQ(extent.size(), fatbin.size());
  const std::string cubin = ReadFile(ACCEL_TEST_PARAM_CUBIN);
  ASSERT_OK_AND_ASSIGN(extent, ImageExtent(cubin.data(), cubin.size()));
  EXPECT_EQ(extent.size(), cubin.size());
}

TEST_F(KernelParamsTest, PackingPutsEachArgumentAtItsOffset) {
  const ParamLayout layout = Expected()["structs"];
  Pair p{1.5f, 2.25};
  Small s{'x', 777};
  char c = 'c';
  Pair q{-1.0f, 1e300};
  void* args[] = {&p, &s, &c, &q};
  ASSERT_OK_AND_ASSIGN(std::string buffer, PackParams(layout, args));
  ASSERT_EQ(buffer.size(), layout.total_size);
  EXPECT_EQ(std::memcmp(buffer.data(), &p, sizeof(p)), 0);
  EXPECT_EQ(std::memcmp(buffer.data() + 16, &s, sizeof(s)), 0);
  EXPECT_EQ(buffer[20], 'c');
  EXPECT_EQ(std::memcmp(buffer.data() + 24, &q, sizeof(q)), 0);
  void* missing[] = {&p, nullptr, &c, &q};
  EXPECT_STATUS(PackParams(layout, missing), kInvalidArgument);
  EXPECT_STATUS(PackParams(layout, nullptr), kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(std::string empty, PackParams(Expected()["none"], nullptr));
  EXPECT_TRUE(empty.empty());
}

TEST(KernelParamsBadInputTest, MalformedImagesAreRefused) {
  EXPECT_STATUS(ParamLayoutsFromCubin("\x7f"
                                      "ELF"),
                kInvalidArgument);
  std::string elf(64, '\0');
  elf.replace(0, 5,
              "\x7f"
              "ELF\x02");
  elf[0x28] = '\x7f';  // section headers far past the end
  elf[0x3a] = 64;
  elf[0x3c] = 3;
  EXPECT_STATUS(ParamLayoutsFromCubin(elf), kInvalidArgument);
  EXPECT_STATUS(ParamLayoutsFromPtx(".entry k ( .param .u64 a"), kInvalidArgument);
  EXPECT_STATUS(ParamLayoutsFromPtx(".entry k ( .param .q16 a )"), kInvalidArgument);
  EXPECT_STATUS(ParamLayoutsFromPtx(".entry k ( .param .align 8 .b8 a[99999999] )"),
                kInvalidArgument);
  std::string fatbin("\x50\xed\x55\xba\x01\x00\x10\x00", 8);
  fatbin += std::string("\xff\xff\xff\x00\x00\x00\x00\x00", 8);  // entries past the end
  EXPECT_STATUS(ParamLayoutsFromFatbin(fatbin), kInvalidArgument);
  EXPECT_STATUS(ImageExtent(fatbin.data(), fatbin.size()), kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(ParamLayouts none, ParamLayoutsFromPtx("// no kernels"));
  EXPECT_TRUE(none.empty());
}

// A layout from the node's driver, for a kernel whose image hides it.
TEST(KernelParamsFromDriverTest, ADriversLayoutIsTakenAsReported) {
  ASSERT_OK_AND_ASSIGN(ParamLayout layout, ParamLayoutFromDriver({{0, 8}, {8, 4}, {16, 16}}));
  EXPECT_EQ(layout, (ParamLayout{{{0, 8}, {8, 4}, {16, 16}}, 32}));
  ASSERT_OK_AND_ASSIGN(ParamLayout none, ParamLayoutFromDriver({}));
  EXPECT_EQ(none, ParamLayout{});
}

// What a node may not report: its answer sizes the client's reads of the
// program's arguments.
TEST(KernelParamsBadInputTest, ADriversImpossibleLayoutIsRefused) {
  EXPECT_STATUS(ParamLayoutFromDriver({{0, 0}}), kInvalidArgument);             // no size
  EXPECT_STATUS(ParamLayoutFromDriver({{0, 8}, {4, 4}}), kInvalidArgument);     // overlapping
  EXPECT_STATUS(ParamLayoutFromDriver({{8, 4}, {0, 4}}), kInvalidArgument);     // out of order
  EXPECT_STATUS(ParamLayoutFromDriver({{32764, 1}}), kInvalidArgument);         // past 32764 bytes
  EXPECT_STATUS(ParamLayoutFromDriver({{8, ~uint64_t{0}}}), kInvalidArgument);  // wrapping
  EXPECT_STATUS(ParamLayoutFromDriver({{~uint64_t{0}, 8}}), kInvalidArgument);
}

}  // namespace
}  // namespace accel::cuda_driver
