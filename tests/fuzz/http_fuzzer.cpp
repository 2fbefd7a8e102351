// libFuzzer harness for the server's request handling (RELIABILITY X6), no
// sockets: the input is a raw HTTP/1.1 request (request line, headers, blank
// line, body). The target is split and its query decoded with cpp-httplib's
// own functions (what `recforge serve` receives from httplib), then
// HttpApi::handle answers it against a real ALS checkpoint trained at start-up.
// Properties checked:
//   - handle() never throws and answers with a status it documents;
//   - every JSON response parses, and every error is {"error": "..."};
//   - a 200 recommendation has at most k items, each a known item id.
#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "recforge/comm/runtime.hpp"
#include "recforge/config/job_config.hpp"
#include "recforge/log/logging.hpp"
#include "recforge/serve/http_api.hpp"
#include "recforge/serve/model_watcher.hpp"
#include "recforge/train/run.hpp"

using namespace recforge;

namespace {

serve::ModelWatcher* g_watcher = nullptr;
serve::HttpApi* g_api = nullptr;
const std::string kToken = "fuzz-admin-token";

[[noreturn]] void property_failed(const char* what, const std::string& detail) {
  std::fprintf(stderr, "property violated: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// Trains the tiny ALS job into a temporary directory and loads its checkpoint.
void start_server(int* argc, char*** argv) {
  static DistributedRuntime runtime(argc, argv);
  const auto dir = std::filesystem::temp_directory_path() / ("recforge-http-fuzz-" + std::to_string(getpid()));
  const std::string yaml = "run: {name: fuzz, output_dir: " + dir.string() + ", log_level: off}\n"
                           "data: {format: synthetic, synthetic: {preset: tiny}, split: {method: leave_one_out},"
                           " cache: false}\n"
                           "model: {type: als, factors: 8}\ntrain: {epochs: 2}\n";
  run_training(resolve_job_config(load_config_string(yaml, "http_fuzzer.yaml")), runtime);
  g_watcher = new serve::ModelWatcher((dir / "fuzz" / "checkpoints").string(), {}, std::chrono::milliseconds(1000));
  if (!g_watcher->poll_once()) property_failed("setup", "the trained checkpoint did not load");
  serve::ApiOptions options;
  options.max_k = 50;
  options.max_interactions = 64;
  options.admin_token = kToken;
  g_api = new serve::HttpApi(*g_watcher, options);
}

serve::HttpRequest parse_raw_request(std::string_view raw) {
  serve::HttpRequest request;
  const std::size_t head_end = raw.find("\r\n\r\n");
  const std::string_view head = raw.substr(0, head_end);
  request.body = head_end == std::string_view::npos ? std::string() : std::string(raw.substr(head_end + 4));
  std::size_t line_end = head.find("\r\n");
  const std::string_view request_line = head.substr(0, line_end);
  const std::size_t space = request_line.find(' ');
  request.method = std::string(request_line.substr(0, space));
  std::string_view target = space == std::string_view::npos ? std::string_view() : request_line.substr(space + 1);
  target = target.substr(0, target.find(' '));
  const std::size_t question = target.find('?');
  request.path = httplib::detail::decode_url(std::string(target.substr(0, question)), false);
  if (question != std::string_view::npos) {
    httplib::Params params;
    httplib::detail::parse_query_text(std::string(target.substr(question + 1)), params);
    for (const auto& [key, value] : params) request.params.emplace(key, value);
  }
  while (line_end != std::string_view::npos) {
    const std::size_t next = head.find("\r\n", line_end + 2);
    const std::string_view header = head.substr(line_end + 2, next == std::string_view::npos ? next : next - line_end - 2);
    constexpr std::string_view kAuthorization = "Authorization: ";
    if (header.substr(0, kAuthorization.size()) == kAuthorization) {
      request.authorization = std::string(header.substr(kAuthorization.size()));
    }
    line_end = next;
  }
  return request;
}

void check_response(const serve::HttpRequest& request, const serve::HttpResponse& response) {
  static const std::set<int> documented = {200, 400, 401, 403, 404, 405, 413, 503};
  const std::string what = request.method + " " + request.path + " -> " + std::to_string(response.status) + " " +
                           response.body.substr(0, 300);
  if (documented.count(response.status) == 0) property_failed("undocumented status", what);
  if (response.content_type != "application/json") return;
  const auto json = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) property_failed("a JSON response does not parse", what);
  if (response.status != 200) {
    if (!json.is_object() || !json.contains("error") || !json["error"].is_string()) {
      property_failed("an error response is not {\"error\": ...}", what);
    }
    return;
  }
  if (request.path == "/v1/recommend" && json.contains("items")) {
    const auto& items = json["items"];
    if (!items.is_array() || items.size() > 50) property_failed("more items than max_k", what);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  log::init(0, 1, log::Level::kOff);
  start_server(argc, argv);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const serve::HttpRequest request = parse_raw_request({reinterpret_cast<const char*>(data), size});
  serve::HttpResponse response;
  try {
    response = g_api->handle(request);
  } catch (const std::exception& e) {
    property_failed("handle() threw", e.what());
  }
  check_response(request, response);
  return 0;
}
