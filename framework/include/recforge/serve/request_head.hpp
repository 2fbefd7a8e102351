// A request's head (method, path, headers), checked before its path is routed
// or a byte of its body is read. Mostly how it says where its body ends:
// cpp-httplib takes the first of two Content-Length headers, reads "abc" as 0
// and "-5" as 2^64-5, and accepts any Transfer-Encoding; each is a way for a
// proxy in front and this server to split a stream into requests differently
// (request smuggling) or for a body to outgrow --max-body. A refused request
// is answered and its connection closed, so its unread body is never parsed
// as the next request.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "recforge/serve/http_api.hpp"

namespace recforge::serve {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// httplib routes with std::regex, which recurses once per character of the
// path: a long path would overflow a connection thread's stack.
inline constexpr std::size_t kMaxPathLength = 1024;

// nullopt when the request may be routed and its body read: a path of at
// most kMaxPathLength characters and, on a method whose body the server reads
// (POST, PUT, PATCH, DELETE), one Content-Length of at most `max_body` bytes
// or `Transfer-Encoding: chunked` alone; on any other method, no body.
// Otherwise the response: 414 for a longer path; 400 for a malformed,
// repeated or conflicting length or a body on another method; 411 for a
// body method with neither header; 413 for a declared length over
// `max_body`; 415 for a multipart body (the API takes JSON); 501 for a
// transfer coding other than chunked.
std::optional<HttpResponse> check_request_head(const std::string& method, const std::string& path,
                                               const HttpHeaders& headers, std::size_t max_body);

// The response when a chunked body grows past `max_body` while it is read.
HttpResponse body_too_large_response();

// A request head's bounds: httplib 0.11 reads any number of header lines into
// its map (memory without bound, ~20x the bytes sent) before any check of
// ours can run.
inline constexpr std::size_t kMaxHeadBytes = 32 << 10;
inline constexpr int kMaxHeaderLines = 100;

// Watches a request's head as httplib reads it, byte by byte, for what must
// be refused before httplib acts on it:
//   431 for a head over kMaxHeadBytes or kMaxHeaderLines header lines;
//   400 for a Range header: httplib would answer it by cutting the JSON into
//       the ranges listed, one copy of the body per range (and parses the
//       list with a regex that recurses once per character).
class HeadGuard {
 public:
  // A new request begins.
  void start() { *this = HeadGuard(); }
  // The next bytes httplib reads; the response once the head breaks a rule.
  // Bytes after the head's blank line (the body) pass unexamined.
  std::optional<HttpResponse> feed(const char* data, std::size_t size);

 private:
  bool head_ended_ = false;
  std::size_t bytes_ = 0;
  int lines_ = 0;            // complete lines so far (the request line first)
  std::size_t line_length_ = 0;  // of the current line, without CR
  int line_crs_ = 0;             // CRs in the current line
  char name_[6] = {};        // its first characters, lower case
};

}  // namespace recforge::serve
