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

}  // namespace
}  // namespace recforge::serve
