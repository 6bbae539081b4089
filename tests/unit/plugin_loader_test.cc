// The plugin boundary: discovery, ABI version negotiation and the clear
// refusal of libraries that are not (compatible) backends.
#include <algorithm>

#include "accel/hal/registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/status_matchers.h"

namespace accel::hal {
namespace {

using ::testing::HasSubstr;

const PluginLoadFailure* FailureFor(const Registry& r, const std::string& name) {
  for (const PluginLoadFailure& f : r.load_failures()) {
    if (f.library_path.find("libaccel_backend_" + name + ".so") != std::string::npos) return &f;
  }
  return nullptr;
}

TEST(PluginLoaderTest, RefusesIncompatibleLibrariesWithReasons) {
  RegistryOptions options;
  options.search_path = {ACCEL_TEST_FAKE_PLUGIN_DIR, ACCEL_TEST_BACKEND_DIR};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Registry> registry, Registry::Create(options));

  const PluginLoadFailure* wrong_major = FailureFor(*registry, "fake_abi99");
  ASSERT_NE(wrong_major, nullptr);
  EXPECT_THAT(wrong_major->reason, HasSubstr("ABI 99.x"));
  const PluginLoadFailure* no_table = FailureFor(*registry, "fake_null");
  ASSERT_NE(no_table, nullptr);
  EXPECT_THAT(no_table->reason, HasSubstr("speaks plugin ABI"));
  const PluginLoadFailure* short_table = FailureFor(*registry, "fake_short");
  ASSERT_NE(short_table, nullptr);
  EXPECT_THAT(short_table->reason, HasSubstr("does not provide required function"));
  const PluginLoadFailure* no_entry = FailureFor(*registry, "fake_noentry");
  ASSERT_NE(no_entry, nullptr);
  EXPECT_THAT(no_entry->reason, HasSubstr("not an accelpool backend"));

  // The real backends still load beside the broken ones.
  ASSERT_OK_AND_ASSIGN(Backend host, registry->GetBackend("host"));
  EXPECT_TRUE(host.available());
  EXPECT_EQ(host.abi_version(), "1.5");
}

TEST(PluginLoaderTest, OnlyLoadsTheRequestedBackends) {
  RegistryOptions options;
  options.search_path = {ACCEL_TEST_BACKEND_DIR};
  options.only = {"host"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Registry> registry, Registry::Create(options));
  ASSERT_EQ(registry->backends().size(), 1u);
  EXPECT_EQ(registry->backends()[0].name(), "host");
}

TEST(PluginLoaderTest, FirstDirectoryWins) {
  RegistryOptions options;
  options.search_path = {ACCEL_TEST_BACKEND_DIR, ACCEL_TEST_BACKEND_DIR};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Registry> registry, Registry::Create(options));
  int hosts = 0;
  for (const Backend& b : registry->backends()) hosts += b.name() == "host";
  EXPECT_EQ(hosts, 1);
}

TEST(PluginLoaderTest, MissingDirectoriesAreNotErrors) {
  RegistryOptions options;
  options.search_path = {"/nonexistent/accelpool"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Registry> registry, Registry::Create(options));
  EXPECT_TRUE(registry->backends().empty());
  EXPECT_TRUE(registry->Devices().empty());
  EXPECT_STATUS(registry->GetDevice("any"), kNotFound);
}

TEST(PluginLoaderTest, BackendOptionsReachTheBackend) {
  RegistryOptions options;
  options.search_path = {ACCEL_TEST_BACKEND_DIR};
  options.only = {"host"};
  options.backend_options["host"] = {{"devices", "5"}, {"device_memory", "64MiB"}};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Registry> registry, Registry::Create(options));
  ASSERT_OK_AND_ASSIGN(Backend host, registry->GetBackend("host"));
  ASSERT_EQ(host.devices().size(), 5u);
  EXPECT_EQ(host.devices()[4].properties().total_memory, 64u << 20);
}

TEST(PluginLoaderTest, BadBackendOptionsAreReportedNotFatal) {
  RegistryOptions options;
  options.search_path = {ACCEL_TEST_BACKEND_DIR};
  options.only = {"host"};
  options.backend_options["host"] = {{"devices", "lots"}};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Registry> registry, Registry::Create(options));
  EXPECT_TRUE(registry->backends().empty());
  ASSERT_EQ(registry->load_failures().size(), 1u);
  EXPECT_THAT(registry->load_failures()[0].reason, HasSubstr("device count"));
}

TEST(PluginLoaderTest, ZeroHostDevicesIsUnavailableWithAReason) {
  RegistryOptions options;
  options.search_path = {ACCEL_TEST_BACKEND_DIR};
  options.only = {"host"};
  options.backend_options["host"] = {{"devices", "0"}};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Registry> registry, Registry::Create(options));
  ASSERT_OK_AND_ASSIGN(Backend host, registry->GetBackend("host"));
  EXPECT_FALSE(host.available());
  EXPECT_THAT(host.unavailable_reason(), HasSubstr("0 devices"));
}

TEST(PluginLoaderTest, VendorBackendsWithoutDriversExplainWhy) {
  RegistryOptions options;
  options.search_path = {ACCEL_TEST_BACKEND_DIR};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Registry> registry, Registry::Create(options));
  for (const char* name : {"cuda", "rocm", "levelzero"}) {
    ASSERT_OK_AND_ASSIGN(Backend b, registry->GetBackend(name));
    if (!b.available()) {
      EXPECT_FALSE(b.unavailable_reason().empty()) << name;
      EXPECT_TRUE(b.devices().empty()) << name;
    }
  }
}

}  // namespace
}  // namespace accel::hal
