// The checks on a request's head before the server routes it or reads its
// body: each bad framing gets its status and message, each good one passes.
#include <gtest/gtest.h>

#include "recforge/serve/request_head.hpp"

namespace recforge::serve {
namespace {

struct Case {
  const char* name;
  std::string method;
  std::string path;
  HttpHeaders headers;
  int status;               // 0: accepted
  const char* message = "";  // a part of the error
};

class RequestHead : public testing::TestWithParam<Case> {};

TEST_P(RequestHead, GetsItsAnswer) {
  const Case& c = GetParam();
  const auto refused = check_request_head(c.method, c.path, c.headers, 4096);
  if (c.status == 0) {
    EXPECT_FALSE(refused) << refused->status << " " << refused->body;
    return;
  }
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, c.status) << refused->body;
  EXPECT_NE(refused->body.find(c.message), std::string::npos) << refused->body;
  EXPECT_EQ(refused->body.rfind("{\"error\":", 0), 0u) << refused->body;
}

const std::string kLongPath = "/" + std::string(kMaxPathLength, 'a');

INSTANTIATE_TEST_SUITE_P(
    Table, RequestHead,
    testing::Values(
        Case{"NoBody", "GET", "/v1/health", {{"Host", "x"}}, 0},
        Case{"ZeroLengthOnGet", "GET", "/v1/health", {{"Content-Length", "0"}}, 0},
        Case{"EmptyPost", "POST", "/v1/recommend", {{"Content-Length", "0"}}, 0},
        Case{"BodyOnGet", "GET", "/v1/health", {{"Content-Length", "34"}}, 400, "a GET request cannot carry a body"},
        Case{"PostWithoutLength", "POST", "/v1/recommend", {{"Host", "x"}}, 411,
             "a POST request needs a Content-Length (0 for no body) or a chunked body"},
        Case{"LengthAtTheLimit", "POST", "/v1/recommend", {{"Content-Length", "4096"}}, 0},
        Case{"LengthWithSpaces", "POST", "/v1/recommend", {{"Content-Length", " 12 "}}, 0},
        Case{"HeaderNamesIgnoreCase", "POST", "/v1/recommend", {{"content-length", "5"}}, 0},
        Case{"Chunked", "POST", "/v1/recommend", {{"Transfer-Encoding", "Chunked"}}, 0},
        Case{"PathAtTheLimit", "GET", kLongPath.substr(1), {}, 0},
        Case{"JsonContentType", "POST", "/v1/recommend", {{"Content-Type", "application/json"}, {"Content-Length", "2"}}, 0},
        Case{"LengthOverTheLimit", "POST", "/v1/recommend", {{"Content-Length", "4097"}}, 413,
             "request body too large"},
        Case{"LengthOverflowing64Bits", "POST", "/", {{"Content-Length", "99999999999999999999"}}, 413,
             "request body too large"},
        Case{"NegativeLength", "POST", "/", {{"Content-Length", "-5"}}, 400, "Content-Length must be a decimal"},
        Case{"LengthNotANumber", "POST", "/", {{"Content-Length", "abc"}}, 400, "Content-Length must be a decimal"},
        Case{"LengthWithExponent", "POST", "/", {{"Content-Length", "1e3"}}, 400, "Content-Length must be a decimal"},
        Case{"LengthList", "POST", "/", {{"Content-Length", "5, 5"}}, 400, "Content-Length must be a decimal"},
        Case{"EmptyLength", "POST", "/", {{"Content-Length", ""}}, 400, "Content-Length must be a decimal"},
        Case{"TwoLengths", "POST", "/", {{"Content-Length", "2"}, {"content-length", "2"}}, 400,
             "more than one Content-Length header"},
        Case{"LengthAndChunked", "POST", "/", {{"Content-Length", "2"}, {"Transfer-Encoding", "chunked"}}, 400,
             "both Content-Length and Transfer-Encoding"},
        Case{"TwoCodings", "POST", "/", {{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}}, 400,
             "more than one Transfer-Encoding header"},
        Case{"GzipCoding", "POST", "/", {{"Transfer-Encoding", "gzip, chunked"}}, 501,
             "Transfer-Encoding must be chunked"},
        Case{"ChunkedOnGet", "GET", "/v1/health", {{"Transfer-Encoding", "chunked"}}, 400,
             "a GET request cannot carry a chunked body"},
        Case{"Multipart", "POST", "/", {{"Content-Type", "Multipart/form-data; boundary=x"}}, 415,
             "multipart bodies are not accepted"},
        Case{"PathTooLong", "GET", kLongPath, {}, 414, "the path is longer than 1024 characters"}),
    [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

// The connection's guard on a request head, fed as httplib reads it.
std::optional<HttpResponse> feed_bytewise(HeadGuard& guard, const std::string& bytes) {
  for (char c : bytes) {
    if (auto refused = guard.feed(&c, 1)) return refused;
  }
  return std::nullopt;
}

std::string head_with(int header_lines, const std::string& line = "x-a: b\r\n") {
  std::string head = "GET /v1/health HTTP/1.1\r\n";
  for (int i = 0; i < header_lines; ++i) head += line;
  return head + "\r\n";
}

TEST(HeadGuard, BoundsTheHeaderLinesAndTheHeadsSize) {
  HeadGuard guard;
  EXPECT_FALSE(feed_bytewise(guard, head_with(kMaxHeaderLines)));
  guard.start();
  auto refused = feed_bytewise(guard, head_with(kMaxHeaderLines + 1));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 431);
  EXPECT_NE(refused->body.find("more than 100 header lines"), std::string::npos) << refused->body;
  guard.start();
  const std::string big = "x-pad: " + std::string(8000, 'y') + "\r\n";
  refused = feed_bytewise(guard, head_with(5, big));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 431);
  EXPECT_NE(refused->body.find("larger than 32 KiB"), std::string::npos) << refused->body;
  // Only "\r\n" alone ends the head, as in httplib: after a bare "\n" or a
  // "\r\r\n" line httplib reads on, so the guard counts on.
  for (const char* not_blank : {"\n", "\r\r\n"}) {
    guard.start();
    refused = feed_bytewise(guard, "GET / HTTP/1.1\r\n" + std::string(not_blank) + head_with(kMaxHeaderLines + 1).substr(25));
    ASSERT_TRUE(refused) << "after " << (not_blank[0] == '\n' ? "LF" : "CR CR LF");
    EXPECT_EQ(refused->status, 431);
    guard.start();
    refused = feed_bytewise(guard, "GET / HTTP/1.1\r\n" + std::string(not_blank) + "Range: bytes=0-0\r\n\r\n");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 400);
  }
}

TEST(HeadGuard, RefusesRangeInAnyCaseButOnlyAsAHeaderName) {
  for (const char* name : {"Range", "range", "RANGE"}) {
    HeadGuard guard;
    const auto refused = feed_bytewise(guard, head_with(1, std::string(name) + ": bytes=0-1\r\n"));
    ASSERT_TRUE(refused) << name;
    EXPECT_EQ(refused->status, 400);
    EXPECT_NE(refused->body.find("Range requests are not served"), std::string::npos);
  }
  HeadGuard guard;
  EXPECT_FALSE(feed_bytewise(guard, head_with(1, "x-range: bytes=0-1\r\n")));
  guard.start();
  EXPECT_FALSE(feed_bytewise(guard, "GET /range:x HTTP/1.1\r\nrangeless: 1\r\n\r\n"));
}

TEST(HeadGuard, TheBodyAndTheNextRequestAreNotTheHead) {
  HeadGuard guard;
  // In one read: the head, then a body of many lines and a Range line.
  std::string bytes = head_with(1);
  for (int i = 0; i < 500; ++i) bytes += "Range: x\r\n";
  EXPECT_FALSE(guard.feed(bytes.data(), bytes.size()));
  // The next request on the connection starts counting afresh.
  guard.start();
  EXPECT_FALSE(feed_bytewise(guard, head_with(kMaxHeaderLines)));
}

}  // namespace
}  // namespace recforge::serve
