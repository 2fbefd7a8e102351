// The HTTP API of `recforge serve`, without sockets: a request in, a response
// out. The server (cli/serve_command.cpp) adapts cpp-httplib to this; tests and
// the fuzzer call it directly.
//
//   GET  /v1/recommend?user=<id>&k=10[&exclude_seen=true][&approximate=false]
//   POST /v1/recommend   {"user": "<id>", "k": 10, "interactions": [{"item": "<id>", "value": 1}]}
//                        (or "items": ["<id>", ...]): fold-in for users unseen at training
//   GET  /v1/similar?item=<id>&k=10
//   GET  /v1/health      200 when a version is loaded, 503 before
//   GET  /v1/model       version, step, metrics, sizes
//   GET  /metrics        Prometheus text
//   POST /v1/reload      only with --admin-token (Authorization: Bearer <token>)
// Errors are JSON {"error": "..."}: 400 bad parameters, 401/403 reload without
// or with a wrong token, 404 unknown endpoint or item, 405 wrong method, 413
// too many interactions, 503 nothing loaded yet.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "recforge/serve/model_watcher.hpp"

namespace recforge::serve {

struct HttpRequest {
  std::string method;  // GET, POST, ...
  std::string path;    // without the query string
  std::multimap<std::string, std::string> params;  // decoded query parameters
  std::string body;
  std::string authorization;  // the Authorization header
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow = {};  // the Allow header of a 405
};

// {"error": message} with `status`.
HttpResponse error_response(int status, const std::string& message);

struct ApiOptions {
  int default_k = 10;
  int max_k = 1000;
  std::size_t max_interactions = 1000;
  std::size_t max_id_length = 256;  // or the served version's longest id, when longer
  bool approximate_by_default = false;
  std::string admin_token;  // empty: POST /v1/reload is off
};

class HttpApi {
 public:
  HttpApi(ModelWatcher& watcher, ApiOptions options);
  // Never throws: every failure is an HTTP error response.
  HttpResponse handle(const HttpRequest& request);
  // Counts a response produced outside handle() (e.g. 413 from the HTTP layer).
  void count(const std::string& endpoint, int status);

 private:
  HttpResponse dispatch(const HttpRequest& request, std::string& endpoint);
  HttpResponse recommend_get(const HttpRequest& request);
  HttpResponse recommend_post(const HttpRequest& request);
  HttpResponse similar(const HttpRequest& request);
  HttpResponse health();
  HttpResponse model();
  HttpResponse metrics();
  HttpResponse reload(const HttpRequest& request);

  ModelWatcher& watcher_;
  ApiOptions options_;

  // Prometheus counters: requests by (endpoint, status) and a latency histogram.
  static constexpr std::array<double, 10> kBuckets = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0};
  std::mutex metrics_mutex_;
  std::map<std::pair<std::string, int>, std::int64_t> requests_;
  std::array<std::int64_t, kBuckets.size() + 1> latency_buckets_{};
  double latency_sum_ = 0;
};

}  // namespace recforge::serve
