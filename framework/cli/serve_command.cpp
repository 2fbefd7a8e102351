// `recforge serve --model-dir DIR`: the HTTP top-K server. It serves the newest
// verified checkpoint version of DIR and hot-reloads newer ones (serve/*.hpp);
// this file only adapts cpp-httplib to serve::HttpApi.
#include <httplib.h>
#include <malloc.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "commands.hpp"
#include "http_server.hpp"
#include "recforge/checkpoint/repository.hpp"
#include "recforge/core/error.hpp"
#include "recforge/io/paths.hpp"
#include "recforge/log/logging.hpp"
#include "recforge/registry/plugin_loader.hpp"
#include "recforge/serve/ann_index.hpp"
#include "recforge/serve/http_api.hpp"
#include "recforge/serve/request_head.hpp"

namespace recforge::cli {
namespace {

struct ServeOptions {
  std::string model_dir;
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 16;
  int max_connections = 512;
  int request_timeout_ms = 10000;
  int poll_ms = 1000;
  int max_k = 1000;
  std::size_t max_body = 1 << 20;
  std::size_t max_interactions = 1000;
  bool ann = false;
  int ann_neighbors = 32;
  int ann_ef_search = 128;
  int max_batch = 32;
  int scoring_threads = 0;
  std::string admin_token_file;
};

std::string read_token(const std::string& path) {
  if (path.empty()) {
    const char* env = std::getenv("RECFORGE_ADMIN_TOKEN");
    const std::string token = env ? env : "";
    RF_CHECK_KIND(ErrorKind::kConfig, token.empty() || token.size() >= 16,
                  "$RECFORGE_ADMIN_TOKEN must be at least 16 characters");
    return token;
  }
  std::ifstream in(path);
  RF_CHECK_KIND(ErrorKind::kConfig, in.good(), "cannot read the admin token file ", path);
  std::string token;
  std::getline(in, token);
  RF_CHECK_KIND(ErrorKind::kConfig, token.size() >= 16, "the admin token in ", path, " must be at least 16 characters");
  return token;
}

serve::HttpRequest to_request(const httplib::Request& req) {
  serve::HttpRequest r;
  r.method = req.method;
  r.path = req.path;
  for (const auto& [key, value] : req.params) r.params.emplace(key, value);
  r.body = req.body;
  r.authorization = req.get_header_value("Authorization");
  return r;
}

// SIGINT/SIGTERM only set a flag (any thread may take the signal: libraries
// start threads of their own); a thread watching it stops the server.
std::atomic<bool> g_stop_requested{false};
constexpr auto kStopGrace = std::chrono::seconds(5);
void on_serve_stop_signal(int) { g_stop_requested.store(true); }

// SIGTERM or SIGINT at any moment (a version loading, serving, the watcher
// stopping) ends the process within kStopGrace: the server stops listening
// as soon as it is listening, requests in flight finish, and whatever still
// runs past the grace period (a client trickling a header byte every few
// seconds, a multi-GiB version loading) is not waited for. The server writes
// nothing, so it simply exits 0 then.
class StopOnSignal {
 public:
  explicit StopOnSignal(HttpServer& server) : thread_([this, &server] { run(server); }) {}
  ~StopOnSignal() {
    finished_.store(true);
    thread_.join();
  }
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

 private:
  void run(HttpServer& server) {
    while (!finished_.load() && !g_stop_requested.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (finished_.load()) return;
    const auto deadline = std::chrono::steady_clock::now() + kStopGrace;
    bool stopped = false;
    while (!finished_.load() && std::chrono::steady_clock::now() < deadline) {
      // httplib's stop() does nothing before listen() has begun.
      if (!stopped && server.is_running()) {
        server.stop();
        stopped = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (finished_.load()) return;
    log::warn("still busy {} s after the stop signal (open connections or a version loading); exiting",
              std::chrono::duration_cast<std::chrono::seconds>(kStopGrace).count());
    std::fflush(stdout);
    std::_Exit(0);
  }

  std::atomic<bool> finished_{false};
  std::thread thread_;
};

void run_server(const ServeOptions& o) {
  // Request bodies (up to --max-body) are buffered on the connection threads.
  // glibc raises its mmap threshold after the first large free, and then
  // each thread's arena keeps such buffers' pages: a fixed threshold returns
  // every large buffer to the system when it is freed.
  mallopt(M_MMAP_THRESHOLD, 256 << 10);
  struct sigaction action {};
  action.sa_handler = on_serve_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  serve::SnapshotOptions snapshot_options{
      .build_ann = o.ann, .ann_neighbors = o.ann_neighbors, .ann_ef_search = o.ann_ef_search, .max_batch = o.max_batch,
      .scoring_threads = o.scoring_threads};
  RF_CHECK_KIND(ErrorKind::kConfig, !o.ann || serve::AnnIndex::available(),
                "--ann needs a recforge built with Faiss (libfaiss-dev, -DRECFORGE_FAISS=ON)");
  // A directory that does not exist yet is waited for (a training job may
  // create it); a file never becomes one.
  RF_CHECK_KIND(ErrorKind::kConfig, io::absent_or_directory(o.model_dir), "--model-dir ", o.model_dir, " is not a directory (a checkpoint directory or a run directory)");
  HttpServer server({.standing_threads = o.threads,
                     .max_connections = o.max_connections,
                     .request_timeout = std::chrono::milliseconds(o.request_timeout_ms)});
  const StopOnSignal stop_on_signal(server);  // from here on, before the first version loads
  serve::ModelWatcher watcher(o.model_dir, snapshot_options, std::chrono::milliseconds(o.poll_ms));
  watcher.poll_once();
  if (!watcher.current()) {
    log::warn("no loadable checkpoint in {} yet: /v1/health answers 503 until one appears", watcher.dir());
  }
  watcher.start();
  serve::HttpApi api(watcher, {.max_k = o.max_k,
                               .max_interactions = o.max_interactions,
                               .approximate_by_default = o.ann,
                               .admin_token = read_token(o.admin_token_file)});

  server.set_payload_max_length(o.max_body);
  server.on_refused([&api](int status) { api.count("http", status); });
  const auto answer = [](httplib::Response& res, const serve::HttpResponse& out) {
    res.status = out.status;
    res.set_content(out.body, out.content_type.c_str());
    if (!out.allow.empty()) res.set_header("Allow", out.allow);
  };
  const auto refuse = [&api, &answer](httplib::Response& res, const serve::HttpResponse& out) {
    api.count("http", out.status);
    answer(res, out);
    res.set_header("Connection", "close");  // so the client does not send its next request on it
    HttpServer::close_after_response();     // what is left of the body is never read as a request
  };
  server.set_pre_routing_handler([&](const httplib::Request& req, httplib::Response& res) {
    const auto refused = serve::check_request_head(req.method, req.path, {req.headers.begin(), req.headers.end()}, o.max_body);
    if (!refused) return httplib::Server::HandlerResponse::Unhandled;
    refuse(res, *refused);
    return httplib::Server::HandlerResponse::Handled;
  });
  const auto handler = [&api, &answer](const httplib::Request& req, httplib::Response& res) {
    answer(res, api.handle(to_request(req)));
  };
  // Methods that may carry a body read it here, stopping at --max-body also
  // when it is chunked (httplib bounds only a declared Content-Length).
  const auto body_handler = [&](const httplib::Request& req, httplib::Response& res,
                                const httplib::ContentReader& read) {
    std::string body;
    bool too_large = false;
    const bool complete = read([&](const char* data, std::size_t size) {
      too_large = body.size() + size > o.max_body;
      if (!too_large) body.append(data, size);
      return !too_large;
    });
    if (!complete) return refuse(res, too_large ? serve::body_too_large_response()
                                                : serve::error_response(400, "the request body ended early"));
    serve::HttpRequest request = to_request(req);
    request.body = std::move(body);
    answer(res, api.handle(request));
  };
  server.Get(".*", handler);
  server.Post(".*", body_handler);
  server.Put(".*", body_handler);
  server.Delete(".*", body_handler);
  server.Patch(".*", body_handler);
  server.Options(".*", handler);  // (405 with Allow; without a route httplib answered 404)
  // Errors httplib produces itself (400 malformed request, 404 a method no
  // route takes, 413, 414). Their connection closes: after a malformed
  // request line the rest of the stream cannot be trusted to start a request.
  server.set_error_handler([&refuse](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty() || HttpServer::refused_by_connection()) return;
    const char* what = res.status == 413   ? "request body too large"
                       : res.status == 400 ? "malformed request"
                       : res.status == 404 ? "no such endpoint or method"
                       : res.status == 414 ? "the request line is too long"
                                           : "request failed";
    refuse(res, serve::error_response(res.status, what));
  });

  const int port = server.bind(o.host, o.port);
  RF_CHECK_KIND(ErrorKind::kIo, port > 0, "cannot listen on ", o.host, ":", o.port);

  if (!g_stop_requested.load()) {  // (a stop during the first load: nothing to serve)
    std::printf("serving %s on http://%s:%d\n", watcher.dir().c_str(), o.host.c_str(), port);
    std::fflush(stdout);
    server.listen_after_bind();
  }
  watcher.stop();
  log::info("server stopped");
}

}  // namespace

void add_serve_command(CLI::App& app, const GlobalOptions& global) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* serve = app.add_subcommand(
      "serve", "serve top-K recommendations over HTTP from a checkpoint directory, hot-reloading new versions");
  serve->add_option("--model-dir", o->model_dir, "a checkpoint directory, or a run directory (runs/<name>: its checkpoints/)")->required();
  serve->add_option("--host", o->host, "address to listen on")->capture_default_str();
  serve->add_option("--port", o->port, "port (0: any free port, printed)")->capture_default_str()->check(CLI::Range(0, 65535));
  serve->add_option("--threads", o->threads, "request threads kept when idle")->capture_default_str()->check(CLI::Range(1, 1024));
  serve->add_option("--max-connections", o->max_connections,
                    "connections served at once, each on its own thread (more wait in a queue)")
      ->capture_default_str()->check(CLI::Range(1, 65536));
  serve->add_option("--request-timeout-ms", o->request_timeout_ms,
                    "time a client has to send a whole request, however slowly it trickles")
      ->capture_default_str()->check(CLI::Range(100, 3600000));
  serve->add_option("--poll-ms", o->poll_ms, "how often to look for a new version")->capture_default_str()->check(CLI::Range(10, 3600000));
  serve->add_option("--max-k", o->max_k, "largest k a request may ask for")->capture_default_str()->check(CLI::Range(1, 100000));
  serve->add_option("--max-body", o->max_body, "largest request body in bytes (413 above)")->capture_default_str()
      ->check(CLI::Range(std::size_t{64}, std::size_t{1} << 30));
  serve->add_option("--max-interactions", o->max_interactions, "most interactions in one POST (413 above)")
      ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24));
  serve->add_flag("--ann", o->ann, "answer with the approximate (Faiss HNSW) index unless a request says approximate=false");
  serve->add_option("--ann-neighbors", o->ann_neighbors, "HNSW links per item")->capture_default_str()->check(CLI::Range(2, 256));
  serve->add_option("--ann-ef-search", o->ann_ef_search, "HNSW search breadth")->capture_default_str()->check(CLI::Range(1, 100000));
  serve->add_option("--max-batch", o->max_batch,
                    "exact queries arriving together are scored in one pass over the items, up to this many (1: off)")
      ->capture_default_str()->check(CLI::Range(1, 1024));
  serve->add_option("--scoring-threads", o->scoring_threads,
                    "request threads that may score exact queries at once (0: one per core)")
      ->capture_default_str()->check(CLI::Range(0, 1024));
  serve->add_option("--admin-token-file", o->admin_token_file,
                    "file holding the token that enables POST /v1/reload (or $RECFORGE_ADMIN_TOKEN); off without one");
  serve->callback([o, &global] {
    log::init(0, 1, log::parse_level(global.log_level.empty() ? "info" : global.log_level), false);
    // An out-of-tree model folds new users in only with its plugin loaded:
    // from the command line, never from a checkpoint's config.
    for (const std::string& library : global.plugins) load_plugin_library(library);
    run_server(*o);
  });
}

}  // namespace recforge::cli
