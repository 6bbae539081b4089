#include "tests/common/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace accel::testing {

absl::StatusOr<HttpAnswer> HttpRequest(const std::string& method, const std::string& url,
                                       const std::string& headers) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://127.0.0.1:")) {
    return absl::InvalidArgumentError("only http://127.0.0.1:PORT/ URLs: " + url);
  }
  const size_t slash = rest.find('/');
  int port = 0;
  if (slash == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(0, slash), &port)) {
    return absl::InvalidArgumentError("no port and path in " + url);
  }
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  timeval timeout{10, 0};  // a server that hangs fails the test, not the run
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return absl::UnavailableError("cannot connect to " + url);
  }
  const std::string request =
      absl::StrCat(method, " ", rest.substr(slash), " HTTP/1.0\r\nHost: 127.0.0.1\r\n", headers,
                   headers.empty() ? "" : "\r\n", "\r\n");
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return absl::UnavailableError("cannot send to " + url);
  }
  std::string raw;
  char buffer[16384];
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) raw.append(buffer, n);
  close(fd);
  const size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return absl::DataLossError("no HTTP answer: " + raw);
  HttpAnswer answer;
  std::vector<std::string> lines = absl::StrSplit(raw.substr(0, end), "\r\n");
  std::vector<std::string> status = absl::StrSplit(lines[0], ' ');
  if (status.size() < 2 || !absl::SimpleAtoi(status[1], &answer.code)) {
    return absl::DataLossError("bad status line: " + lines[0]);
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    answer.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  answer.body = raw.substr(end + 4);
  return answer;
}

}  // namespace accel::testing
