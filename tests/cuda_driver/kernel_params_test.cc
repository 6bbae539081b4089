// Kernel parameter layouts read from the images nvcc builds here (a cubin,
// PTX and a fat binary of param_kernels.cu) agree with each other and with
// the C++ layout of the same types, and packing puts each argument's bytes
// at its offset. Malformed images are refused, never overread.
#include "clients/cuda_driver/kernel_params.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
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
      {"tiled", {{{0, 8}, {8, 8}, {16, 4}}, 20}},
  };
}

class KernelParamsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ACCEL_TEST_HAVE_NVCC) GTEST_SKIP() << "nvcc was not found at build time: no images";
  }
};

// The cubin of each arch nvcc built here (ACCEL_TEST_PARAM_CUBIN_ARCHS).
std::vector<std::pair<std::string, std::string>> Cubins() {
  std::vector<std::pair<std::string, std::string>> cubins;
  for (absl::string_view arch :
       absl::StrSplit(ACCEL_TEST_PARAM_CUBIN_ARCHS, ',', absl::SkipEmpty())) {
    cubins.emplace_back(
        arch, ReadFile(absl::StrReplaceAll(ACCEL_TEST_PARAM_CUBINS, {{"{}", arch}}).c_str()));
  }
  return cubins;
}

TEST_F(KernelParamsTest, CubinLayoutsAreTheCppLayouts) {
  for (const auto& [arch, cubin] : Cubins()) {
    ASSERT_FALSE(cubin.empty()) << arch;
    ASSERT_OK_AND_ASSIGN(ParamLayouts layouts, ParamLayoutsFromCubin(cubin));
    for (const auto& [name, expected] : Expected()) {
      ASSERT_EQ(layouts.count(name), 1u) << arch << " " << name;
      EXPECT_EQ(layouts[name].params, expected.params) << arch << " " << name;
      // The cubin states the buffer's size; for a kernel without parameters
      // it may say nothing.
      if (!expected.params.empty()) {
        EXPECT_EQ(layouts[name].total_size, expected.total_size) << arch << " " << name;
      }
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
  for (const auto& [arch, cubin] : Cubins()) {
    ASSERT_OK_AND_ASSIGN(extent, ImageExtent(cubin.data(), cubin.size()));
    EXPECT_EQ(extent.size(), cubin.size()) << arch;
  }
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

// A fat binary of `entries`, each a kind (1 PTX, 2 ELF) and its payload,
// laid out as nvcc lays one out: a 16-byte header, then entries with
// 64-byte headers.
std::string FatBinary(const std::vector<std::pair<uint16_t, std::string>>& entries) {
  std::string body;
  for (const auto& [kind, payload] : entries) {
    std::string header(64, '\0');
    const uint32_t header_size = 64;
    const uint64_t payload_size = payload.size();
    std::memcpy(&header[0], &kind, sizeof(kind));
    std::memcpy(&header[4], &header_size, sizeof(header_size));
    std::memcpy(&header[8], &payload_size, sizeof(payload_size));
    body += header + payload;
  }
  std::string fatbin(16, '\0');
  const uint32_t magic = 0xBA55ED50;
  const uint16_t version = 1, header_size = 16;
  const uint64_t size = body.size();
  std::memcpy(&fatbin[0], &magic, sizeof(magic));
  std::memcpy(&fatbin[4], &version, sizeof(version));
  std::memcpy(&fatbin[6], &header_size, sizeof(header_size));
  std::memcpy(&fatbin[8], &size, sizeof(size));
  return fatbin + body;
}

// A cubin whose metadata this reader cannot follow (a newer toolkit's, say)
// does not hide the PTX beside it; with nothing readable left the layouts
// are empty, and the library asks the node's driver.
TEST(KernelParamsBadInputTest, AFatBinaryEntryThatCannotBeReadIsPassedOver) {
  const std::string unreadable_cubin =
      "\x7f"
      "ELF and then nothing an ELF reader can follow";
  const std::string ptx = ".entry k ( .param .u64 a, .param .u32 b ) { ret; }";
  EXPECT_STATUS(ParamLayoutsFromCubin(unreadable_cubin), kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(ParamLayouts layouts,
                       ParamLayoutsFromFatbin(FatBinary({{2, unreadable_cubin}, {1, ptx}})));
  EXPECT_EQ(layouts, (ParamLayouts{{"k", {{{0, 8}, {8, 4}}, 12}}}));
  ASSERT_OK_AND_ASSIGN(layouts, ParamLayoutsFromFatbin(FatBinary({{2, unreadable_cubin}})));
  EXPECT_TRUE(layouts.empty());
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
