// Schema: the keys a config section accepts, declared in code by the component
// that reads them, with types, ranges, defaults and one line of documentation.
//
//   Schema s("ALS model");
//   s.add_int("factors", 64, "latent dimension k", 1, 4096)
//    .add_float("regularization", 0.01, "L2 weight lambda", 0.0)
//    .add_string("solver", "cg", "normal-equation solver", {"cg", "cholesky"});
//   ConfigNode resolved = s.resolve(raw);   // or throws a kConfig Error like
//   // configs/als.yaml:7:12: model.factors: expected an integer >= 1, got -3
//
// resolve() rejects unknown keys (with the closest valid key), duplicate keys,
// wrong types and out-of-range values, and fills in defaults. document() writes
// the Markdown table used in configs/README.md.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "recforge/config/config_node.hpp"

namespace recforge {

class Schema {
 public:
  explicit Schema(std::string doc = {});
  Schema(const Schema&);
  Schema& operator=(const Schema&);
  Schema(Schema&&) noexcept;
  Schema& operator=(Schema&&) noexcept;
  ~Schema();

  static constexpr std::int64_t kIntMin = std::numeric_limits<std::int64_t>::min();
  static constexpr std::int64_t kIntMax = std::numeric_limits<std::int64_t>::max();
  static constexpr double kInf = std::numeric_limits<double>::infinity();
  static constexpr std::size_t kMaxItems = std::numeric_limits<std::size_t>::max();

  Schema& add_int(std::string key, std::int64_t default_value, std::string doc,
                  std::int64_t min = kIntMin, std::int64_t max = kIntMax);
  Schema& add_float(std::string key, double default_value, std::string doc, double min = -kInf,
                    double max = kInf);
  Schema& add_bool(std::string key, bool default_value, std::string doc);
  Schema& add_string(std::string key, std::string default_value, std::string doc,
                     std::vector<std::string> choices = {});
  // A key that must be given (no default).
  Schema& add_required_string(std::string key, std::string doc, std::vector<std::string> choices = {});
  Schema& add_required_int(std::string key, std::string doc, std::int64_t min = kIntMin,
                           std::int64_t max = kIntMax);
  // A key whose value may be omitted or null (resolved as null).
  Schema& add_optional_string(std::string key, std::string doc, std::vector<std::string> choices = {});
  Schema& add_optional_int(std::string key, std::string doc, std::int64_t min = kIntMin,
                           std::int64_t max = kIntMax);
  Schema& add_optional_float(std::string key, std::string doc, double min = -kInf, double max = kInf);
  Schema& add_string_list(std::string key, std::vector<std::string> default_value, std::string doc);
  // Each item in [min, max]; between min_items and max_items of them.
  Schema& add_int_list(std::string key, std::vector<std::int64_t> default_value, std::string doc,
                       std::int64_t min = kIntMin, std::int64_t max = kIntMax, std::size_t min_items = 0,
                       std::size_t max_items = kMaxItems);
  Schema& add_float_list(std::string key, std::vector<double> default_value, std::string doc,
                         double min = -kInf, double max = kInf);
  Schema& add_section(std::string key, Schema section, std::string doc);
  // A section whose accepted keys depend on the value of its `selector` key (model.type):
  // `lookup(value)` returns the schema for that value (it must contain the selector key).
  using SchemaLookup = std::function<Schema(const ConfigNode& selector_value)>;
  // With required = false an absent section resolves to null.
  Schema& add_variant_section(std::string key, std::string selector, SchemaLookup lookup, std::string doc,
                              bool required = true);

  // Appends every key of `other` (a duplicate key is an internal error).
  Schema& extend(const Schema& other);

  const std::string& doc() const;
  std::vector<std::string> keys() const;

  // Validates a raw map (or null = all defaults) and returns the resolved tree.
  ConfigNode resolve(const ConfigNode& raw, const std::string& path = {}) const;
  // Markdown: one row per key (nested keys dotted), with type, default and doc.
  std::string document(const std::string& prefix = {}) const;

  struct Field;  // defined in schema.cpp

 private:
  std::string doc_;
  std::vector<std::unique_ptr<Field>> fields_;
  Schema& add(Field field);
};

// Levenshtein distance; used for "did you mean" hints.
std::size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `key` if it is close enough to be a plausible typo.
std::optional<std::string> closest_match(std::string_view key, const std::vector<std::string>& candidates);

}  // namespace recforge
