// Request handling of `recforge serve` (see http_api.hpp). Every input is
// validated here; nothing a client sends can make it throw past handle().
#include "recforge/serve/http_api.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cmath>
#include <chrono>
#include <limits>
#include <set>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "recforge/core/error.hpp"
#include "recforge/core/version.hpp"

namespace recforge::serve {
namespace {

using Json = nlohmann::ordered_json;

// A client error: status and message, turned into a JSON response.
struct ClientError {
  int status;
  std::string message;
  std::string allow = {};  // 405: the methods the path takes
};

// Client text (ids echoed back, error messages quoting them) may be invalid
// UTF-8: replaced with U+FFFD rather than failing the response.
HttpResponse json_response(int status, const Json& body) {
  return {status, "application/json", body.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n"};
}


// The query parameters an endpoint reads, each at most once: a misspelt `topk`
// or a second `k` would otherwise be dropped without a word.
void check_params(const HttpRequest& r, std::initializer_list<std::string_view> known) {
  for (auto it = r.params.begin(); it != r.params.end(); it = r.params.upper_bound(it->first)) {
    if (std::find(known.begin(), known.end(), it->first) == known.end()) {
      throw ClientError{400, known.size() == 0
                                 ? fmt::format("unknown parameter '{}' ({} {} takes none: send the fields in the body)",
                                               it->first, r.method, r.path)
                                 : fmt::format("unknown parameter '{}' ({} {} takes {})", it->first, r.method, r.path,
                                               fmt::join(known, ", "))};
    }
    if (r.params.count(it->first) > 1) throw ClientError{400, fmt::format("parameter {} given more than once", it->first)};
  }
}

// The body as JSON, refusing a key repeated within one object (nlohmann keeps
// the last silently; the client may have meant the first), and, while it is
// parsed, more values than `max_interactions` interactions take (each at most
// an object, its item and its value, plus the request's own fields) or a
// nesting deeper than a request's (an object of arrays of objects): a parsed
// value takes some 30 times its bytes ("{}," is three), so a body under the
// size limit still held tens of megabytes per connection.
nlohmann::json parse_body(const std::string& body, std::size_t max_interactions) {
  const std::size_t max_values = 3 * max_interactions + 32;
  using Event = nlohmann::json::parse_event_t;
  constexpr int kMaxDepth = 4;
  std::vector<std::set<std::string>> open_objects;  // the keys seen in each
  std::size_t values = 0;
  const auto no_repeated_keys = [&](int depth, Event event, nlohmann::json& parsed) {
    if (event == Event::object_start || event == Event::array_start || event == Event::value) {
      if (++values > max_values) throw ClientError{413, fmt::format("at most {} interactions per request", max_interactions)};
      if (depth >= kMaxDepth) throw ClientError{400, "the body nests deeper than a request does"};
    }
    if (event == Event::object_start) open_objects.emplace_back();
    if (event == Event::object_end) open_objects.pop_back();
    if (event == Event::key && !open_objects.back().insert(parsed.get<std::string>()).second) {
      throw ClientError{400, fmt::format("field '{}' appears twice in one object", parsed.get<std::string>())};
    }
    return true;
  };
  try {
    return nlohmann::json::parse(body, no_repeated_keys);
  } catch (const nlohmann::json::exception& e) {
    throw ClientError{400, std::string("the body is not JSON: ") + e.what()};
  }
}

// The fields of a JSON object are among `known`.
void check_fields(const nlohmann::json& object, const char* what, std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      throw ClientError{400, fmt::format("unknown field '{}' in {} (fields: {})", key, what, fmt::join(known, ", "))};
    }
  }
}

const std::string* param(const HttpRequest& r, const std::string& name) {
  const auto it = r.params.find(name);
  return it == r.params.end() ? nullptr : &it->second;
}

int parse_k(const std::string* text, const ApiOptions& o) {
  if (text == nullptr) return o.default_k;
  int k = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), k);
  if (ec != std::errc() || end != text->data() + text->size() || k < 1 || k > o.max_k) {
    throw ClientError{400, fmt::format("k must be an integer in [1, {}]", o.max_k)};
  }
  return k;
}

bool parse_bool(const std::string* text, const char* name, bool fallback) {
  if (text == nullptr) return fallback;
  if (*text == "true" || *text == "1") return true;
  if (*text == "false" || *text == "0") return false;
  throw ClientError{400, fmt::format("{} must be true or false", name)};
}

// The longest id a request may name: max_id_length, or the served version's
// longest id (training reads longer ids; the server returns them, and must
// take them back). Read once per request from the current version: a reload
// before the lookup changes a bound, not the answer.
std::size_t id_limit(const ApiOptions& o, const ModelWatcher& watcher) {
  const auto current = watcher.current();
  return std::max(o.max_id_length, current ? current->longest_id() : 0);
}

std::string checked_id(const std::string& id, const char* what, std::size_t limit) {
  if (id.empty() || id.size() > limit) {
    throw ClientError{400, fmt::format("{} id must be 1 to {} characters", what, limit)};
  }
  return id;
}

Json id_json(const data::IdMap& ids, std::int32_t dense) {
  return ids.is_integer() ? Json(ids.integer_id(dense)) : Json(ids.string_id(dense));
}

Json items_json(const Snapshot& s, const std::vector<ScoredItem>& items) {
  Json out = Json::array();
  for (const ScoredItem& i : items) out.push_back({{"item", id_json(s.items(), i.item)}, {"score", i.score}});
  return out;
}

std::shared_ptr<const Snapshot> require_model(ModelWatcher& w) {
  auto s = w.current();
  if (!s) throw ClientError{503, "no checkpoint version loaded yet"};
  return s;
}

// An id from JSON: a string, or an integer for integer-keyed data.
std::string json_id(const nlohmann::json& v, const char* what) {
  if (v.is_string()) return v.get<std::string>();
  // (nlohmann reads 2^63 and above as unsigned: get<int64_t> would wrap them.)
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    throw ClientError{400, fmt::format("{} id {} is outside the 64-bit integer range", what, v.get<std::uint64_t>())};
  }
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  throw ClientError{400, fmt::format("{} ids must be strings or integers", what)};
}

}  // namespace

HttpResponse error_response(int status, const std::string& message) {
  return json_response(status, Json{{"error", message}});
}

HttpApi::HttpApi(ModelWatcher& watcher, ApiOptions options) : watcher_(watcher), options_(std::move(options)) {
  options_.default_k = std::min(options_.default_k, options_.max_k);  // --max-k 5 bounds a request without k too
}

void HttpApi::count(const std::string& endpoint, int status) {
  std::lock_guard<std::mutex> lock(metrics_mutex_);
  ++requests_[{endpoint, status}];
}

HttpResponse HttpApi::handle(const HttpRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  std::string endpoint = "other";
  HttpResponse response;
  try {
    response = dispatch(request, endpoint);
  } catch (const ClientError& e) {
    response = error_response(e.status, e.message);
    response.allow = e.allow;
  } catch (const Error& e) {
    response = error_response(e.kind() == ErrorKind::kInvalidArgument ? 400 : 500, e.message());
  } catch (const std::exception& e) {
    response = error_response(500, std::string("internal error: ") + e.what());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::lock_guard<std::mutex> lock(metrics_mutex_);
  ++requests_[{endpoint, response.status}];
  std::size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  ++latency_buckets_[b];
  latency_sum_ += seconds;
  return response;
}

HttpResponse HttpApi::dispatch(const HttpRequest& r, std::string& endpoint) {
  // HEAD is GET without the body (httplib drops it), as load balancers probe.
  const bool get = r.method == "GET" || r.method == "HEAD";
  const auto only = [&](const char* method) {
    const bool is_get = std::string_view(method) == "GET";
    if (is_get ? !get : r.method != method) {
      throw ClientError{405, fmt::format("{} takes {} only", r.path, method), is_get ? "GET, HEAD" : method};
    }
  };
  if (r.path == "/v1/recommend") {
    endpoint = "recommend";
    if (get) return recommend_get(r);
    if (r.method == "POST") return recommend_post(r);
    throw ClientError{405, "/v1/recommend takes GET or POST", "GET, HEAD, POST"};
  }
  if (r.path == "/v1/similar") {
    endpoint = "similar";
    only("GET");
    return similar(r);
  }
  if (r.path == "/v1/health") {
    endpoint = "health";
    only("GET");
    return health();
  }
  if (r.path == "/v1/model") {
    endpoint = "model";
    only("GET");
    return model();
  }
  if (r.path == "/metrics") {
    endpoint = "metrics";
    only("GET");
    return metrics();
  }
  if (r.path == "/v1/reload" && !options_.admin_token.empty()) {
    endpoint = "reload";
    only("POST");
    return reload(r);
  }
  throw ClientError{404, "no such endpoint"};
}

HttpResponse HttpApi::recommend_get(const HttpRequest& r) {
  check_params(r, {"user", "k", "exclude_seen", "approximate"});
  const std::string* user = param(r, "user");
  if (user == nullptr) throw ClientError{400, "missing parameter user"};
  const std::string id = checked_id(*user, "user", id_limit(options_, watcher_));
  const int k = parse_k(param(r, "k"), options_);
  const bool exclude_seen = parse_bool(param(r, "exclude_seen"), "exclude_seen", true);
  const bool approximate = parse_bool(param(r, "approximate"), "approximate", options_.approximate_by_default);
  const auto s = require_model(watcher_);
  Json body{{"user", id}, {"version", s->version()}};
  const auto dense = s->users().find(id);
  if (dense && s->has_embeddings()) {
    body["source"] = "model";
    body["items"] = items_json(*s, s->recommend(*dense, k, exclude_seen, approximate));
  } else {
    // Unknown user (or a model without embeddings): the most popular items.
    std::vector<std::int32_t> exclude;
    if (dense && exclude_seen) {
      const auto seen = s->seen(*dense);
      exclude.assign(seen.begin(), seen.end());
      std::sort(exclude.begin(), exclude.end());
    }
    body["source"] = "popularity";
    body["items"] = items_json(*s, s->popular(k, exclude));
  }
  return json_response(200, body);
}

HttpResponse HttpApi::recommend_post(const HttpRequest& r) {
  check_params(r, {});
  const nlohmann::json request = parse_body(r.body, options_.max_interactions);
  if (!request.is_object()) throw ClientError{400, "the body must be a JSON object"};
  check_fields(request, "the request", {"user", "k", "approximate", "items", "interactions"});
  int k = options_.default_k;
  if (request.contains("k")) {
    const auto& v = request["k"];
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > options_.max_k) {
      throw ClientError{400, fmt::format("k must be an integer in [1, {}]", options_.max_k)};
    }
    k = static_cast<int>(v.get<std::int64_t>());
  }
  bool approximate = options_.approximate_by_default;
  if (request.contains("approximate")) {
    if (!request["approximate"].is_boolean()) throw ClientError{400, "approximate must be true or false"};
    approximate = request["approximate"].get<bool>();
  }
  const std::size_t limit = id_limit(options_, watcher_);
  // Interactions: {"interactions": [{"item": id, "value": v}]} or {"items": [id, ...]}.
  std::vector<std::string> ids;
  std::vector<float> values;
  for (const char* key : {"interactions", "items"}) {
    if (!request.contains(key)) continue;
    const auto& list = request[key];
    if (!list.is_array()) throw ClientError{400, fmt::format("{} must be an array", key)};
    if (list.size() + ids.size() > options_.max_interactions) {
      throw ClientError{413, fmt::format("at most {} interactions per request", options_.max_interactions)};
    }
    for (const auto& entry : list) {
      if (std::string(key) == "items") {
        ids.push_back(checked_id(json_id(entry, "item"), "item", limit));
        values.push_back(1.0f);
        continue;
      }
      if (!entry.is_object() || !entry.contains("item")) {
        throw ClientError{400, "each interaction must be an object with an item"};
      }
      check_fields(entry, "an interaction", {"item", "value"});
      ids.push_back(checked_id(json_id(entry["item"], "item"), "item", limit));
      double value = 1.0;
      if (entry.contains("value")) {
        if (!entry["value"].is_number()) throw ClientError{400, "an interaction's value must be a number"};
        value = entry["value"].get<double>();
        // (A double past the float range would become infinite in the model.)
        if (!(std::fabs(value) <= std::numeric_limits<float>::max())) {
          throw ClientError{400, "an interaction's value must be a finite 32-bit float"};
        }
      }
      values.push_back(static_cast<float>(value));
    }
  }
  std::optional<std::string> user;
  if (request.contains("user")) user = checked_id(json_id(request["user"], "user"), "user", limit);
  const auto s = require_model(watcher_);
  std::vector<std::int32_t> items;
  for (const std::string& id : ids) {
    const auto dense = s->items().find(id);
    if (!dense) throw ClientError{404, fmt::format("unknown item '{}'", id)};
    items.push_back(*dense);
  }
  std::optional<std::int32_t> known;
  if (user) known = s->users().find(*user);
  std::vector<std::int32_t> exclude = items;
  if (known) {
    const auto seen = s->seen(*known);
    exclude.insert(exclude.end(), seen.begin(), seen.end());
  }
  std::sort(exclude.begin(), exclude.end());
  exclude.erase(std::unique(exclude.begin(), exclude.end()), exclude.end());
  Json body{{"version", s->version()}};
  if (user) body["user"] = *user;
  if (known && items.empty() && s->has_embeddings()) {
    body["source"] = "model";
    body["items"] = items_json(*s, s->recommend(*known, k, true, approximate));
  } else if (!items.empty() && s->has_embeddings()) {
    const auto embedding = s->fold_in(items, values);
    if (embedding) {
      body["source"] = "fold_in";
      body["items"] = items_json(*s, s->recommend_vector(*embedding, k, exclude, approximate));
    } else if (known) {
      // No fold-in: a known user still has a trained vector (popularity
      // would throw it away); the posted items are left out like seen ones.
      body["source"] = "model";
      body["items"] = items_json(*s, s->recommend_vector(s->user_embedding(*known), k, exclude, approximate));
    } else {
      body["source"] = "popularity";
      body["items"] = items_json(*s, s->popular(k, exclude));
    }
  } else {
    body["source"] = "popularity";
    body["items"] = items_json(*s, s->popular(k, exclude));
  }
  return json_response(200, body);
}

HttpResponse HttpApi::similar(const HttpRequest& r) {
  check_params(r, {"item", "k"});
  const std::string* item = param(r, "item");
  if (item == nullptr) throw ClientError{400, "missing parameter item"};
  const std::string id = checked_id(*item, "item", id_limit(options_, watcher_));
  const int k = parse_k(param(r, "k"), options_);
  const auto s = require_model(watcher_);
  const auto dense = s->items().find(id);
  if (!dense) throw ClientError{404, fmt::format("unknown item '{}'", id)};
  if (!s->has_embeddings()) throw ClientError{404, "this model has no item embeddings"};
  return json_response(200, Json{{"item", id}, {"version", s->version()}, {"items", items_json(*s, s->similar(*dense, k))}});
}

HttpResponse HttpApi::health() {
  const auto s = watcher_.current();
  if (!s) return json_response(503, Json{{"status", "loading"}, {"dir", watcher_.dir()}});
  return json_response(200, Json{{"status", "ok"}, {"version", s->version()}});
}

HttpResponse HttpApi::model() {
  const auto s = require_model(watcher_);
  Json metrics = Json::object();
  for (const auto& [name, value] : s->metrics()) metrics[name] = value;
  const auto loaded = std::chrono::duration_cast<std::chrono::seconds>(s->loaded_at().time_since_epoch()).count();
  return json_response(200, Json{{"version", s->version()},
                                 {"step", s->step()},
                                 {"epoch", s->manifest().epoch},
                                 {"model_type", s->meta().model_type},
                                 {"created", s->meta().created},
                                 {"recforge_version", s->meta().recforge_version},
                                 {"git_revision", s->meta().git_revision},
                                 {"dataset", s->meta().dataset_name},
                                 {"users", s->num_users()},
                                 {"items", s->num_items()},
                                 {"dim", s->dim()},
                                 {"fold_in", s->can_fold_in()},
                                 {"ann", s->has_ann()},
                                 {"loaded_at_unix", loaded},
                                 {"reloads", watcher_.reloads()},
                                 {"refused_versions", watcher_.refused()},
                                 {"metrics", metrics},
                                 {"server_version", std::string(version())}});
}

HttpResponse HttpApi::metrics() {
  std::string out;
  out += "# HELP recforge_requests_total Requests by endpoint and HTTP status.\n# TYPE recforge_requests_total counter\n";
  std::lock_guard<std::mutex> lock(metrics_mutex_);
  for (const auto& [key, n] : requests_) {
    out += fmt::format("recforge_requests_total{{endpoint=\"{}\",code=\"{}\"}} {}\n", key.first, key.second, n);
  }
  out += "# HELP recforge_request_seconds Time to handle a request (excluding HTTP I/O).\n"
         "# TYPE recforge_request_seconds histogram\n";
  std::int64_t cumulative = 0;
  for (std::size_t b = 0; b < kBuckets.size(); ++b) {
    cumulative += latency_buckets_[b];
    out += fmt::format("recforge_request_seconds_bucket{{le=\"{}\"}} {}\n", kBuckets[b], cumulative);
  }
  cumulative += latency_buckets_.back();
  out += fmt::format("recforge_request_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
  out += fmt::format("recforge_request_seconds_sum {}\nrecforge_request_seconds_count {}\n", latency_sum_, cumulative);
  const auto s = watcher_.current();
  out += "# HELP recforge_model_step Training step of the served checkpoint version (-1: none).\n"
         "# TYPE recforge_model_step gauge\n";
  out += fmt::format("recforge_model_step {}\n", s ? s->step() : -1);
  out += fmt::format("# TYPE recforge_reloads_total counter\nrecforge_reloads_total {}\n", watcher_.reloads());
  out += fmt::format("# HELP recforge_reload_failures_total Failed checkpoint loads, each attempt.\n"
                     "# TYPE recforge_reload_failures_total counter\nrecforge_reload_failures_total {}\n",
                     watcher_.failures());
  out += fmt::format("# HELP recforge_refused_versions_total Checkpoint versions refused for good (corrupt, "
                     "incompatible).\n# TYPE recforge_refused_versions_total counter\nrecforge_refused_versions_total {}\n",
                     watcher_.refused());
  if (s) {
    const auto [requests, batches] = s->exact_batches();
    out += fmt::format("# HELP recforge_exact_queries_total Exact top-k queries scored since the server started.\n"
                       "# TYPE recforge_exact_queries_total counter\nrecforge_exact_queries_total {}\n", requests);
    out += fmt::format("# HELP recforge_exact_batches_total Batches those queries were scored in.\n"
                       "# TYPE recforge_exact_batches_total counter\nrecforge_exact_batches_total {}\n", batches);
  }
  return {200, "text/plain; version=0.0.4", out};
}

HttpResponse HttpApi::reload(const HttpRequest& r) {
  const std::string expected = "Bearer " + options_.admin_token;
  if (r.authorization.empty()) throw ClientError{401, "reload needs Authorization: Bearer <token>"};
  // Constant-time comparison: the token must not leak through timing.
  unsigned diff = static_cast<unsigned>(r.authorization.size() ^ expected.size());
  for (std::size_t i = 0; i < r.authorization.size(); ++i) {
    diff |= static_cast<unsigned>(r.authorization[i] ^ expected[i % expected.size()]);
  }
  if (diff != 0) throw ClientError{403, "wrong token"};
  const bool swapped = watcher_.poll_once();
  const auto s = watcher_.current();
  return json_response(200, Json{{"reloaded", swapped}, {"version", s ? s->version() : std::string()}});
}

}  // namespace recforge::serve
