// ConfigNode: tree operations, typed scalar parsing, and YAML output.
#include "recforge/config/config_node.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "recforge/core/error.hpp"

namespace recforge {

std::string SourceLocation::str() const {
  if (file.empty()) return "<default>";
  if (line == 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

ConfigNode ConfigNode::null(std::string path, SourceLocation where) {
  ConfigNode n;
  n.path_ = std::move(path);
  n.where_ = std::move(where);
  return n;
}

ConfigNode ConfigNode::scalar(std::string text, std::string path, SourceLocation where) {
  ConfigNode n = null(std::move(path), std::move(where));
  n.kind_ = Kind::kScalar;
  n.text_ = std::move(text);
  return n;
}

ConfigNode ConfigNode::list(std::string path, SourceLocation where) {
  ConfigNode n = null(std::move(path), std::move(where));
  n.kind_ = Kind::kList;
  return n;
}

ConfigNode ConfigNode::map(std::string path, SourceLocation where) {
  ConfigNode n = null(std::move(path), std::move(where));
  n.kind_ = Kind::kMap;
  return n;
}

std::string ConfigNode::where() const {
  std::string out = where_.file.empty() ? std::string() : where_.str() + ": ";
  return out + (path_.empty() ? std::string("<root>") : path_);
}

namespace {

[[noreturn]] void type_error(const ConfigNode& node, std::string_view expected) {
  const std::string got = node.is_scalar() ? "'" + node.text() + "'"
                          : node.is_null() ? std::string("null")
                          : node.is_list() ? std::string("a list")
                                           : std::string("a map");
  RF_THROW(ErrorKind::kConfig, node.where(), ": expected ", expected, ", got ", got);
}

}  // namespace

std::int64_t ConfigNode::as_int() const {
  if (!is_scalar()) type_error(*this, "an integer");
  std::int64_t value = 0;
  const char* first = text_.data();
  const char* last = first + text_.size();
  if (first != last && *first == '+') ++first;
  auto [end, ec] = std::from_chars(first, last, value);
  if (ec == std::errc::result_out_of_range) type_error(*this, "an integer within 64 bits");
  if (ec != std::errc() || end != last || first == last) type_error(*this, "an integer");
  return value;
}

double ConfigNode::as_double() const {
  if (!is_scalar()) type_error(*this, "a number");
  double value = 0;
  const char* first = text_.data();
  const char* last = first + text_.size();
  if (first != last && *first == '+') ++first;
  auto [end, ec] = std::from_chars(first, last, value);
  if (ec == std::errc::result_out_of_range) type_error(*this, "a finite number");
  if (ec != std::errc() || end != last || first == last) type_error(*this, "a number");
  if (!std::isfinite(value)) type_error(*this, "a finite number");
  return value;
}

bool ConfigNode::as_bool() const {
  if (is_scalar()) {
    if (text_ == "true" || text_ == "True" || text_ == "TRUE") return true;
    if (text_ == "false" || text_ == "False" || text_ == "FALSE") return false;
  }
  type_error(*this, "true or false");
}

const std::string& ConfigNode::as_string() const {
  if (!is_scalar()) type_error(*this, "a string");
  return text_;
}

std::vector<std::string> ConfigNode::as_string_list() const {
  if (!is_list()) type_error(*this, "a list of strings");
  std::vector<std::string> out;
  for (const ConfigNode& item : items_) out.push_back(item.as_string());
  return out;
}

std::vector<std::int64_t> ConfigNode::as_int_list() const {
  if (!is_list()) type_error(*this, "a list of integers");
  std::vector<std::int64_t> out;
  for (const ConfigNode& item : items_) out.push_back(item.as_int());
  return out;
}

std::vector<double> ConfigNode::as_double_list() const {
  if (!is_list()) type_error(*this, "a list of numbers");
  std::vector<double> out;
  for (const ConfigNode& item : items_) out.push_back(item.as_double());
  return out;
}

void ConfigNode::push_back(ConfigNode item) {
  RF_ASSERT(is_list());
  items_.push_back(std::move(item));
}

const ConfigNode* ConfigNode::find(std::string_view key) const {
  for (const Entry& e : entries_)
    if (e.first == key) return &e.second;
  return nullptr;
}

ConfigNode* ConfigNode::find(std::string_view key) {
  for (Entry& e : entries_)
    if (e.first == key) return &e.second;
  return nullptr;
}

const ConfigNode& ConfigNode::operator[](std::string_view key) const {
  const ConfigNode* child = find(key);
  RF_CHECK_KIND(ErrorKind::kInternal, child != nullptr, "config key '",
                path_.empty() ? std::string(key) : path_ + "." + std::string(key),
                "' is not in the resolved config (is it declared in the schema?)");
  return *child;
}

ConfigNode& ConfigNode::set(std::string key, ConfigNode value) {
  RF_ASSERT(is_map());
  if (ConfigNode* existing = find(key)) {
    *existing = std::move(value);
    return *existing;
  }
  entries_.emplace_back(std::move(key), std::move(value));
  return entries_.back().second;
}

void ConfigNode::set_path(const std::string& path) {
  path_ = path;
  for (std::size_t i = 0; i < items_.size(); ++i) items_[i].set_path(path + "[" + std::to_string(i) + "]");
  for (Entry& e : entries_) e.second.set_path(path.empty() ? e.first : path + "." + e.first);
}

namespace {

void emit(YAML::Emitter& out, const ConfigNode& node) {
  switch (node.kind()) {
    case ConfigNode::Kind::kNull: out << YAML::Null; break;
    case ConfigNode::Kind::kScalar: out << node.text(); break;
    case ConfigNode::Kind::kList: {
      const bool flow = std::all_of(node.items().begin(), node.items().end(),
                                    [](const ConfigNode& n) { return n.is_scalar(); });
      out << (flow ? YAML::Flow : YAML::Block) << YAML::BeginSeq;
      for (const ConfigNode& item : node.items()) emit(out, item);
      out << YAML::EndSeq;
      break;
    }
    case ConfigNode::Kind::kMap:
      out << YAML::BeginMap;
      for (const auto& [key, value] : node.entries()) {
        out << YAML::Key << key << YAML::Value;
        emit(out, value);
      }
      out << YAML::EndMap;
      break;
  }
}

}  // namespace

std::string ConfigNode::to_yaml() const {
  YAML::Emitter out;
  emit(out, *this);
  return std::string(out.c_str()) + "\n";
}

}  // namespace recforge
