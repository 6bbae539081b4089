// Lease listings in pages: every live and queued lease exactly once, in id
// order, however the pages fall; a token not given out is refused; and a
// pool with more leases than fit one gRPC message (4 MiB, about 6,700
// leases) lists whole through a client with gRPC's default limits.
#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pool/common/lease_pages.h"
#include "pool/common/status_convert.h"
#include "pool/coordinator/coordinator.h"
#include "pool/coordinator/coordinator_service.h"
#include "tests/common/status_is_matcher.h"
#include "tests/common/status_matchers.h"

namespace accel::pool {
namespace {

using ::accel::testing::StatusIs;

class NullListener : public LeaseListener {
 public:
  void OnLeaseEnded(const std::string&, const absl::Status&) override {}
  void OnNodeLost() override {}
};

// `devices` host devices of 1 TiB on node "a": room for many small leases.
void AddNode(Coordinator& coordinator, NullListener& listener, uint32_t devices) {
  std::vector<v1::DeviceInfo> list;
  for (uint32_t i = 0; i < devices; ++i) {
    v1::DeviceInfo& d = list.emplace_back();
    d.set_backend("host");
    d.set_index(i);
    d.set_vendor("host");
    d.set_total_memory(1ull << 40);
  }
  coordinator.AddNode("a", "a:1", {}, std::move(list), &listener);
}

v1::LeaseRequest Small() {
  v1::LeaseRequest r;
  r.set_device_count(1);
  r.set_memory(16 << 20);  // the pool's smallest
  r.set_holder("listing test");
  return r;
}

Coordinator::Options ManyLeases() {
  Coordinator::Options options;
  options.default_ttl_seconds = 600;
  options.max_leases_per_tenant = 0;
  return options;
}

// Follows the pages of `size`, checking each: what the caller saw, in order.
std::vector<std::string> AllPages(Coordinator& coordinator, uint32_t size, int* pages) {
  std::vector<std::string> ids;
  std::string token;
  *pages = 0;
  do {
    absl::StatusOr<Coordinator::LeasePage> page = coordinator.ListLeases(Caller{}, size, token);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok() || ++*pages > 10000) break;
    EXPECT_LE(page->leases.size(), size == 0 ? Coordinator::kDefaultLeasePage
                                             : std::min(size, Coordinator::kMaxLeasePage));
    if (!page->next_page_token.empty()) {
      EXPECT_FALSE(page->leases.empty()) << "a page before the last is empty";
    }
    for (const v1::LeaseInfo& l : page->leases) ids.push_back(l.lease_id());
    token = page->next_page_token;
  } while (!token.empty());
  return ids;
}

TEST(LeaseListingTest, PagesListEveryLiveAndQueuedLeaseOnceWhereverThePagesFall) {
  Coordinator coordinator(ManyLeases());
  NullListener listener;
  AddNode(coordinator, listener, 1);
  // Three live leases of the whole device's memory would not fit: one live
  // whole-device lease, and three requests queued behind it.
  v1::LeaseRequest whole;
  whole.set_device_count(1);
  whole.set_holder("whole");
  ASSERT_OK_AND_ASSIGN(v1::LeaseResponse held, coordinator.Lease(whole, Caller{}));
  std::vector<std::thread> waiting;
  for (int i = 0; i < 3; ++i) {
    waiting.emplace_back([&] {
      v1::LeaseRequest queued = whole;
      queued.set_wait_seconds(30);
      (void)coordinator.Lease(queued, Caller{});  // ends with Stop()
    });
  }
  for (int i = 0; i < 500 && coordinator.ListLeases(Caller{}).size() < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const std::vector<v1::LeaseInfo> all = coordinator.ListLeases(Caller{});
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].state(), "active");
  for (size_t i = 1; i < all.size(); ++i) EXPECT_EQ(all[i].state(), "queued");
  for (uint32_t size : {1u, 2u, 3u, 4u, 5u}) {
    int pages = 0;
    std::vector<std::string> ids = AllPages(coordinator, size, &pages);
    EXPECT_EQ(pages, static_cast<int>((4 + size - 1) / size)) << "pages of " << size;
    ASSERT_EQ(ids.size(), 4u) << "pages of " << size;
    EXPECT_EQ(ids[0], held.lease().lease_id());
    EXPECT_TRUE(std::is_sorted(ids.begin() + 1, ids.end())) << "queued ones in id order";
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 4u);
  }
  coordinator.Stop();
  for (std::thread& t : waiting) t.join();
}

TEST(LeaseListingTest, PageSizesAreBoundedAndForeignTokensRefused) {
  Coordinator coordinator(ManyLeases());
  NullListener listener;
  AddNode(coordinator, listener, 4);
  constexpr int kLeases = 5200;  // more than the largest page
  std::map<std::string, std::string> tokens;
  for (int i = 0; i < kLeases; ++i) {
    ASSERT_OK_AND_ASSIGN(v1::LeaseResponse lease, coordinator.Lease(Small(), Caller{}));
    tokens[lease.lease().lease_id()] = lease.token();
  }
  int pages = 0;
  std::vector<std::string> ids = AllPages(coordinator, 0, &pages);
  EXPECT_EQ(pages, 6);  // 1000 each
  EXPECT_EQ(ids.size(), static_cast<size_t>(kLeases));
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
  ids = AllPages(coordinator, 4000000000u, &pages);
  EXPECT_EQ(pages, 2);  // at most 5000 each
  EXPECT_EQ(ids.size(), static_cast<size_t>(kLeases));

  for (const std::string& bad :
       {std::string("x"), std::string("zl-1"), std::string(4096, 'a'), std::string("\x1b[2J", 4)}) {
    EXPECT_THAT(coordinator.ListLeases(Caller{}, 10, bad).status(),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
  // A token whose lease has ended since goes on after it all the same.
  absl::StatusOr<Coordinator::LeasePage> first = coordinator.ListLeases(Caller{}, 10, "");
  ASSERT_OK(first.status());
  const std::string& last = first->leases.back().lease_id();
  ASSERT_OK(coordinator.Release(last, tokens[last], Caller{}));
  ASSERT_OK_AND_ASSIGN(Coordinator::LeasePage next,
                       coordinator.ListLeases(Caller{}, 10, first->next_page_token));
  ASSERT_FALSE(next.leases.empty());
  EXPECT_GT(next.leases.front().lease_id(), first->leases.back().lease_id());
  coordinator.Stop();
}

TEST(LeaseListingTest, APoolLargerThanOneGrpcMessageListsWholeOverGrpc) {
  Coordinator coordinator(ManyLeases());
  NullListener listener;
  AddNode(coordinator, listener, 8);
  constexpr int kLeases = 20000;  // about 3 times what 4 MiB held unpaged
  for (int i = 0; i < kLeases; ++i) ASSERT_OK(coordinator.Lease(Small(), Caller{}).status());
  Leadership leadership(std::shared_ptr<Coordinator>(std::shared_ptr<void>(), &coordinator), "");
  CoordinatorService service(leadership, std::chrono::seconds(1));
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  // gRPC's default limits: the 4 MiB receive limit poolctl failed at.
  auto stub = v1::Coordinator::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  int calls = 0;
  absl::StatusOr<v1::ListLeasesResponse> all =
      ListAllLeases([&](const v1::ListLeasesRequest& request, v1::ListLeasesResponse* page) {
        ++calls;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        return FromGrpc(stub->ListLeases(&context, request, page), "ListLeases");
      });
  ASSERT_OK(all.status());
  EXPECT_EQ(all->leases_size(), kLeases);
  EXPECT_EQ(calls, 4);
  std::set<std::string> ids;
  for (const v1::LeaseInfo& l : all->leases()) ids.insert(l.lease_id());
  EXPECT_EQ(ids.size(), static_cast<size_t>(kLeases));

  // A hostile page token is refused with a reason, and the service goes on.
  v1::ListLeasesRequest bad;
  bad.set_page_token(std::string(1 << 20, 'q'));
  v1::ListLeasesResponse refused;
  grpc::ClientContext context;
  EXPECT_EQ(stub->ListLeases(&context, bad, &refused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  server->Shutdown();
  coordinator.Stop();
}

}  // namespace
}  // namespace accel::pool
