#include "recforge/serve/request_head.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <string_view>

namespace recforge::serve {
namespace {

bool equals_ignoring_case(const std::string& a, const char* b) {
  std::size_t i = 0;
  for (; i < a.size() && b[i] != '\0'; ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return i == a.size() && b[i] == '\0';
}

bool starts_with_ignoring_case(const std::string& s, const char* prefix) {
  const std::size_t n = std::char_traits<char>::length(prefix);
  return s.size() >= n && equals_ignoring_case(s.substr(0, n), prefix);
}

std::string trimmed(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

}  // namespace

HttpResponse body_too_large_response() { return error_response(413, "request body too large"); }

std::optional<HttpResponse> check_request_head(const std::string& method, const std::string& path,
                                               const HttpHeaders& headers, std::size_t max_body) {
  if (path.size() > kMaxPathLength)
    return error_response(414, "the path is longer than " + std::to_string(kMaxPathLength) + " characters");
  const std::string* length = nullptr;
  const std::string* coding = nullptr;
  for (const auto& [name, value] : headers) {
    // httplib's multipart parser would run on the body (and calls a receiver
    // the server does not give it).
    if (equals_ignoring_case(name, "Content-Type") && starts_with_ignoring_case(trimmed(value), "multipart/"))
      return error_response(415, "multipart bodies are not accepted: send JSON");
    if (equals_ignoring_case(name, "Content-Length")) {
      if (length != nullptr) return error_response(400, "more than one Content-Length header");
      length = &value;
    } else if (equals_ignoring_case(name, "Transfer-Encoding")) {
      if (coding != nullptr) return error_response(400, "more than one Transfer-Encoding header");
      coding = &value;
    }
  }
  // httplib reads a body on these methods only; on any other, body bytes
  // would be parsed as the next request.
  const bool reads_body =
      method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE" || method == "PRI";
  if (coding != nullptr) {
    // Both headers: a proxy may honour one and us the other (RFC 9112 6.3).
    if (length != nullptr) return error_response(400, "both Content-Length and Transfer-Encoding");
    if (!equals_ignoring_case(trimmed(*coding), "chunked"))
      return error_response(501, "Transfer-Encoding must be chunked");
    if (!reads_body) return error_response(400, "a " + method + " request cannot carry a chunked body");
    return std::nullopt;
  }
  // Without either header httplib would read the body until the client
  // closes (HTTP/1.0), holding the connection to --request-timeout-ms.
  if (length == nullptr) {
    if (!reads_body) return std::nullopt;
    return error_response(411, "a " + method + " request needs a Content-Length (0 for no body) or a chunked body");
  }
  // 1*DIGIT and nothing else: no sign, no spaces inside, no list.
  const std::string digits = trimmed(*length);
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return error_response(400, "Content-Length must be a decimal number of bytes");
  std::uint64_t bytes = 0;
  const auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), bytes);
  if (parsed.ec == std::errc::result_out_of_range || bytes > max_body) return body_too_large_response();
  if (bytes > 0 && !reads_body) return error_response(400, "a " + method + " request cannot carry a body");
  return std::nullopt;
}

std::optional<HttpResponse> HeadGuard::feed(const char* data, std::size_t size) {
  for (std::size_t i = 0; i < size && !head_ended_; ++i) {
    const char c = data[i];
    if (++bytes_ > kMaxHeadBytes) {
      return error_response(431, "the request head is larger than " + std::to_string(kMaxHeadBytes >> 10) + " KiB");
    }
    if (c == '\n') {
      // httplib ends the head on "\r\n" alone; a bare "\n" or "\r\r\n" line
      // is one more header line to it, so here too.
      if (line_length_ == 0 && line_crs_ == 1 && lines_ > 0) {
        head_ended_ = true;
        break;
      }
      if (++lines_ > kMaxHeaderLines + 1) {
        return error_response(431, "more than " + std::to_string(kMaxHeaderLines) + " header lines");
      }
      line_length_ = 0;
      line_crs_ = 0;
      continue;
    }
    if (c == '\r') {
      ++line_crs_;
      continue;
    }
    if (line_length_ < sizeof(name_)) {
      name_[line_length_] = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (line_length_ + 1 == sizeof(name_) && lines_ > 0 && std::string_view(name_, sizeof(name_)) == "range:") {
        return error_response(400, "Range requests are not served: the API answers whole JSON documents");
      }
    }
    ++line_length_;
  }
  return std::nullopt;
}

}  // namespace recforge::serve
