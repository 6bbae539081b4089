#include "pool/common/lease_pages.h"

#include <set>
#include <string>
#include <utility>

namespace accel::pool {

namespace v1 = ::accelpool::v1;

absl::StatusOr<v1::ListLeasesResponse> ListAllLeases(const ListLeasesCall& list) {
  v1::ListLeasesResponse all;
  v1::ListLeasesRequest request;
  request.set_page_size(5000);  // the coordinator's most
  // A coordinator that handed out a token twice would be followed forever.
  std::set<std::string> seen;
  do {
    v1::ListLeasesResponse page;
    if (absl::Status s = list(request, &page); !s.ok()) return s;
    for (v1::LeaseInfo& l : *page.mutable_leases()) *all.add_leases() = std::move(l);
    if (!page.next_page_token().empty() && !seen.insert(page.next_page_token()).second) {
      return absl::InternalError("the coordinator's lease listing repeated a page");
    }
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  return all;
}

}  // namespace accel::pool
