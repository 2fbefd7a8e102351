// libFuzzer harness for the YAML config loader and schema validation
// (RELIABILITY I1/I2: a bad config is a clear error, never a crash).
//
// Input: the YAML text. It is loaded (yaml-cpp behind recforge's loader, with
// its depth limit and duplicate-key check) and resolved against a schema with
// every kind of key (ints, floats, bools, choices, lists, a nested section).
// Properties checked:
//   - nothing but recforge::Error escapes, and an error names the input;
//   - a resolved config re-resolves to itself (resolution is idempotent).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "recforge/config/config_node.hpp"
#include "recforge/config/schema.hpp"
#include "recforge/core/error.hpp"

using namespace recforge;

namespace {

[[noreturn]] void property_failed(const char* what, const std::string& detail) {
  std::fprintf(stderr, "property violated: %s\n%s\n", what, detail.c_str());
  std::abort();
}

const Schema& schema() {
  static const Schema s = [] {
    Schema optimizer("optimizer");
    optimizer.add_string("type", "adam", "kind", {"sgd", "adam"}).add_float("lr", 0.001, "step", 0.0, 10.0);
    Schema root("fuzzed job");
    root.add_int("epochs", 10, "epochs", 1, 1000)
        .add_float("dropout", 0.2, "dropout", 0.0, 0.95)
        .add_bool("shuffle", true, "shuffle")
        .add_string("activation", "relu", "activation", {"relu", "gelu"})
        .add_optional_string("name", "name")
        .add_int_list("k", {10, 20}, "cut-offs", 1, 1000)
        .add_float_list("weights", {}, "weights")
        .add_string_list("tags", {}, "tags")
        .add_section("optimizer", optimizer, "optimizer");
    return root;
  }();
  return s;
}

std::string rendered(const ConfigNode& node) {
  try {
    return node.to_yaml();
  } catch (const Error& e) {
    property_failed("a resolved config does not render", e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string name = "fuzz.yaml";
  ConfigNode resolved;
  try {
    resolved = schema().resolve(load_config_string(text, name));
  } catch (const Error& e) {
    const std::string message = e.what();
    if (message.find(name) == std::string::npos) property_failed("error does not name the input", message);
    return 0;
  }
  const std::string once = rendered(resolved);
  try {
    const std::string twice = rendered(schema().resolve(load_config_string(once, "rendered.yaml")));
    if (twice != once) property_failed("resolution is not idempotent", once + "\n---\n" + twice);
  } catch (const Error& e) {
    property_failed("a resolved config does not resolve again", std::string(e.what()) + "\n" + once);
  }
  return 0;
}
