// ConfigNode: a YAML-like tree (null, scalar, list, map) where every node knows
// its dotted path ("model.embedding.dim") and where it came from (file:line:col).
// Raw trees come from load_config_file(); resolved trees come from
// Schema::resolve(), after which the typed getters cannot fail on user input.
// yaml-cpp stays out of this header.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace recforge {

struct SourceLocation {
  std::string file;  // empty for values that did not come from a file (defaults, --set)
  int line = 0;      // 1-based, 0 when unknown
  int column = 0;    // 1-based, 0 when unknown
  // "file:line:col", "file", or "<default>"
  std::string str() const;
};

class ConfigNode {
 public:
  enum class Kind { kNull, kScalar, kList, kMap };
  using Entry = std::pair<std::string, ConfigNode>;

  ConfigNode() = default;
  static ConfigNode null(std::string path = {}, SourceLocation where = {});
  static ConfigNode scalar(std::string text, std::string path = {}, SourceLocation where = {});
  static ConfigNode list(std::string path = {}, SourceLocation where = {});
  static ConfigNode map(std::string path = {}, SourceLocation where = {});

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_scalar() const { return kind_ == Kind::kScalar; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_map() const { return kind_ == Kind::kMap; }
  const std::string& path() const { return path_; }
  const SourceLocation& location() const { return where_; }
  // Where the key that introduced this node was written (map children); else location().
  const SourceLocation& key_location() const { return key_where_.file.empty() ? where_ : key_where_; }
  void set_key_location(SourceLocation where) { key_where_ = std::move(where); }
  // "file:line:col: path" prefix for error messages.
  std::string where() const;

  // Scalars: the text as written. Typed views parse it (throws a config Error if it does not parse).
  const std::string& text() const { return text_; }
  std::int64_t as_int() const;
  double as_double() const;
  bool as_bool() const;
  const std::string& as_string() const;
  std::vector<std::string> as_string_list() const;
  std::vector<std::int64_t> as_int_list() const;
  std::vector<double> as_double_list() const;

  // Lists.
  const std::vector<ConfigNode>& items() const { return items_; }
  void push_back(ConfigNode item);

  // Maps keep insertion order; duplicates are allowed here so the validator can report them.
  const std::vector<Entry>& entries() const { return entries_; }
  std::vector<Entry>& entries() { return entries_; }
  const ConfigNode* find(std::string_view key) const;
  ConfigNode* find(std::string_view key);
  // The child `key`; throws an internal error if absent (resolved trees always have every key).
  const ConfigNode& operator[](std::string_view key) const;
  // Adds or replaces `key`.
  ConfigNode& set(std::string key, ConfigNode value);

  // Typed shortcuts on a map: node.get_int("dim") == node["dim"].as_int().
  std::int64_t get_int(std::string_view key) const { return (*this)[key].as_int(); }
  double get_double(std::string_view key) const { return (*this)[key].as_double(); }
  bool get_bool(std::string_view key) const { return (*this)[key].as_bool(); }
  const std::string& get_string(std::string_view key) const { return (*this)[key].as_string(); }
  const ConfigNode& section(std::string_view key) const { return (*this)[key]; }

  // Re-labels this subtree (after moving it under a new parent).
  void set_path(const std::string& path);
  // Block-style YAML text of this tree.
  std::string to_yaml() const;

 private:
  Kind kind_ = Kind::kNull;
  std::string text_;
  std::vector<ConfigNode> items_;
  std::vector<Entry> entries_;
  std::string path_;
  SourceLocation where_;
  SourceLocation key_where_;
};

// Loads a YAML file into a raw ConfigNode tree with locations. Rejects files over
// 1 MiB and nesting deeper than 32 levels before the YAML parser sees them.
ConfigNode load_config_file(const std::string& path);
ConfigNode load_config_string(std::string_view yaml, const std::string& name = "<string>");
// Applies "a.b.c=value" (value parsed as YAML) to a raw tree, creating maps on the way.
void apply_config_override(ConfigNode& root, std::string_view assignment);

}  // namespace recforge
