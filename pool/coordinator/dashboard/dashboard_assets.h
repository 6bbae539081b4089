// The dashboard's page, style sheet and script (pool/coordinator/dashboard/
// assets/), built into poold by cmake/embed_files.cmake: the dashboard
// works with no file on disk and no internet access.
#ifndef ACCEL_POOL_COORDINATOR_DASHBOARD_DASHBOARD_ASSETS_H_
#define ACCEL_POOL_COORDINATOR_DASHBOARD_DASHBOARD_ASSETS_H_

#include <vector>
#include "absl/strings/string_view.h"

namespace accel::pool::dashboard {

struct EmbeddedFile {
  absl::string_view path;  // where it is served: "/index.html"
  absl::string_view content_type;
  absl::string_view body;
};
const std::vector<EmbeddedFile>& EmbeddedFiles();

}  // namespace accel::pool::dashboard

#endif  // ACCEL_POOL_COORDINATOR_DASHBOARD_DASHBOARD_ASSETS_H_
