// A plain HTTP/1.0 request to a loopback server, for tests of poold's web
// endpoints: the answer's status code, headers and body.
#ifndef ACCEL_TESTS_COMMON_HTTP_GET_H_
#define ACCEL_TESTS_COMMON_HTTP_GET_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace accel::testing {

struct HttpAnswer {
  int code = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

// `url` is http://127.0.0.1:PORT/PATH; each header a "Name: value" line.
absl::StatusOr<HttpAnswer> HttpRequest(const std::string& method, const std::string& url,
                                       const std::string& headers = "");

}  // namespace accel::testing

#endif  // ACCEL_TESTS_COMMON_HTTP_GET_H_
