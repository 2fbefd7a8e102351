// YAML text -> raw ConfigNode with file:line:col on every node, plus --set overrides.
// Input is size- and depth-capped before yaml-cpp sees it (yaml-cpp recurses on
// nesting and expands aliases; both can be turned against it).
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include "recforge/config/config_node.hpp"
#include "recforge/core/error.hpp"
#include "recforge/core/utf8.hpp"

namespace recforge {
namespace {

constexpr std::size_t kMaxConfigBytes = 1 << 20;
constexpr int kMaxDepth = 32;
constexpr int kMaxNodes = 100000;

// An upper bound on the nesting depth of a YAML document, computed without parsing.
int approximate_depth(std::string_view text) {
  int max_depth = 0, brackets = 0;
  std::vector<std::size_t> indents;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    std::size_t indent = line.find_first_not_of(' ');
    if (indent == std::string_view::npos || line[indent] == '#') continue;
    while (!indents.empty() && indents.back() >= indent) indents.pop_back();
    indents.push_back(indent);
    int dashes = 0;
    for (std::size_t i = indent; i + 1 < line.size() && line[i] == '-' && line[i + 1] == ' '; i += 2) ++dashes;
    char quote = 0;
    for (char c : line) {
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '[' || c == '{') {
        max_depth = std::max(max_depth, static_cast<int>(indents.size()) + dashes + ++brackets);
      } else if (c == ']' || c == '}') {
        --brackets;
      } else if (c == '#') {
        break;
      }
    }
    max_depth = std::max(max_depth, static_cast<int>(indents.size()) + dashes + std::max(brackets, 0));
  }
  return max_depth;
}

struct Converter {
  const std::string& file;
  int nodes = 0;

  SourceLocation where(const YAML::Node& node) const {
    const YAML::Mark mark = node.Mark();
    return SourceLocation{file, mark.line + 1, mark.column + 1};
  }

  ConfigNode convert(const YAML::Node& node, const std::string& path, int depth) {
    RF_CHECK_KIND(ErrorKind::kConfig, ++nodes <= kMaxNodes, file, ": more than ", kMaxNodes,
                  " YAML nodes (aliases expanding?); refusing to load");
    RF_CHECK_KIND(ErrorKind::kConfig, depth <= kMaxDepth, where(node).str(), ": ", path,
                  ": nesting deeper than ", kMaxDepth, " levels");
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return ConfigNode::null(path, where(node));
      case YAML::NodeType::Scalar:
        return ConfigNode::scalar(node.Scalar(), path, where(node));
      case YAML::NodeType::Sequence: {
        ConfigNode list = ConfigNode::list(path, where(node));
        std::size_t i = 0;
        for (const YAML::Node& item : node) list.push_back(convert(item, path + "[" + std::to_string(i++) + "]", depth + 1));
        return list;
      }
      case YAML::NodeType::Map: {
        ConfigNode map = ConfigNode::map(path, where(node));
        for (const auto& pair : node) {
          RF_CHECK_KIND(ErrorKind::kConfig, pair.first.IsScalar(), where(pair.first).str(), ": ", path,
                        ": map keys must be plain strings");
          const std::string key = pair.first.Scalar();
          const std::string child_path = path.empty() ? key : path + "." + key;
          ConfigNode child = convert(pair.second, child_path, depth + 1);
          // A null value's mark points after the key; report the key's position instead.
          if (child.is_null()) child = ConfigNode::null(child_path, where(pair.first));
          child.set_key_location(where(pair.first));
          // Duplicates are kept so the schema can report both lines.
          map.entries().emplace_back(key, std::move(child));
        }
        return map;
      }
    }
    RF_ASSERT(false);
  }
};

// The line where a second, non-empty YAML document starts, or 0. Found from
// the document markers (`---`, `...` at the start of a line, where YAML alone
// reads them) rather than by yaml-cpp's LoadAll, which loops for ever on some
// malformed input (found by the config fuzzer).
int second_document_line(std::string_view yaml) {
  bool content = false;  // the first document has begun
  int marker = 0;        // a marker after it
  int number = 0;
  for (std::size_t start = 0; start < yaml.size();) {
    std::size_t end = yaml.find('\n', start);
    if (end == std::string_view::npos) end = yaml.size();
    std::string_view line = yaml.substr(start, end - start);
    start = end + 1;
    ++number;
    const bool is_marker = (line.starts_with("---") || line.starts_with("...")) &&
                           (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
    if (is_marker) {
      if (content && marker == 0) marker = number;
      line.remove_prefix(3);  // `--- {a: 1}`: content on the marker's line
    }
    const std::size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#' || (line[first] == '%' && !content)) continue;
    if (marker != 0) return marker;
    content = true;
  }
  return 0;
}

// Where a YAML comment (whitespace then '#', outside quotes) starts in a --set
// value, or npos. As in YAML, a quote or a bracket opens something only where a
// node may start: the value's start, or after '[', '{', ',' or ':' inside a
// flow collection; elsewhere it is part of a plain scalar ("it's").
std::size_t comment_start(std::string_view value) {
  char quote = 0;
  int flow_depth = 0;
  bool node_may_start = true;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (quote == '\'') {
      if (c == '\'' && i + 1 < value.size() && value[i + 1] == '\'') ++i;  // '' is a quote inside
      else if (c == '\'') quote = 0;
      continue;
    }
    if (quote == '"') {
      if (c == '\\') ++i;
      else if (c == '"') quote = 0;
      continue;
    }
    if (c == ' ' || c == '\t') continue;
    if (c == '#' && i > 0 && (value[i - 1] == ' ' || value[i - 1] == '\t')) return i;
    if (node_may_start && (c == '\'' || c == '"')) {
      quote = c;
      node_may_start = false;
    } else if (node_may_start && (c == '[' || c == '{')) {
      ++flow_depth;
    } else if (flow_depth > 0 && (c == ']' || c == '}')) {
      --flow_depth;
      node_may_start = false;
    } else {
      node_may_start = flow_depth > 0 && (c == ',' || c == ':');
    }
  }
  return std::string_view::npos;
}

}  // namespace

ConfigNode load_config_string(std::string_view yaml, const std::string& name) {
  RF_CHECK_KIND(ErrorKind::kConfig, yaml.size() <= kMaxConfigBytes, name, ": config is ", yaml.size(),
                " bytes; the limit is ", kMaxConfigBytes);
  RF_CHECK_KIND(ErrorKind::kConfig, yaml.find('\0') == std::string_view::npos, name,
                ": config contains a NUL byte");
  // yaml-cpp takes some invalid bytes for a byte-order mark and reads the
  // rest as nothing at all: a config of defaults, with no error.
  if (const std::size_t bad = first_invalid_utf8(yaml); bad != std::string_view::npos) {
    const auto line = 1 + std::count(yaml.begin(), yaml.begin() + static_cast<std::ptrdiff_t>(bad), '\n');
    const std::size_t line_start = yaml.rfind('\n', bad == 0 ? 0 : bad - 1);
    const std::size_t column = line_start == std::string_view::npos || bad == 0 ? bad + 1 : bad - line_start;
    RF_THROW(ErrorKind::kConfig, name, ":", line, ":", column, ": config is not valid UTF-8");
  }
  const int depth = approximate_depth(yaml);
  RF_CHECK_KIND(ErrorKind::kConfig, depth <= kMaxDepth, name, ": config nests about ", depth,
                " levels deep; the limit is ", kMaxDepth);
  YAML::Node root;
  try {
    // A second document (after `---`) would be dropped without a word.
    if (const int line = second_document_line(yaml); line > 0) {
      RF_THROW(ErrorKind::kConfig, name, ":", line, ": a second YAML document (after '---' or '...'); a config is one document");
    }
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    RF_THROW(ErrorKind::kConfig, name, ":", e.mark.line + 1, ":", e.mark.column + 1, ": invalid YAML: ", e.msg);
  }
  Converter converter{name};
  try {
    ConfigNode tree = converter.convert(root, "", 0);
    if (tree.is_null()) return ConfigNode::map("", SourceLocation{name, 1, 1});
    RF_CHECK_KIND(ErrorKind::kConfig, tree.is_map(), tree.location().str(),
                  ": a config file must be a map of sections (run:, data:, model:, ...)");
    return tree;
  } catch (const YAML::Exception& e) {
    RF_THROW(ErrorKind::kConfig, name, ":", e.mark.line + 1, ":", e.mark.column + 1, ": invalid YAML: ", e.msg);
  }
}

ConfigNode load_config_file(const std::string& path) {
  std::error_code ec;
  RF_CHECK_KIND(ErrorKind::kConfig, std::filesystem::is_regular_file(path, ec), "config file '", path,
                "' does not exist or is not a regular file");
  const auto size = std::filesystem::file_size(path, ec);
  RF_CHECK_KIND(ErrorKind::kConfig, !ec && size <= kMaxConfigBytes, path, ": config is ", size,
                " bytes; the limit is ", kMaxConfigBytes);
  std::ifstream in(path, std::ios::binary);
  RF_CHECK_KIND(ErrorKind::kConfig, in.good(), "cannot read config file '", path, "'");
  std::ostringstream text;
  text << in.rdbuf();
  return load_config_string(text.str(), path);
}

void apply_config_override(ConfigNode& root, std::string_view assignment) {
  const std::size_t eq = assignment.find('=');
  RF_CHECK_KIND(ErrorKind::kConfig, eq != std::string_view::npos && eq > 0, "--set '", assignment,
                "': expected key.path=value");
  const std::string key_path(assignment.substr(0, eq));
  const std::string value_text(assignment.substr(eq + 1));
  const std::string origin = "--set " + std::string(assignment);
  // YAML reads an empty value as null, which would quietly mean the default.
  const std::size_t first = value_text.find_first_not_of(" \t");
  RF_CHECK_KIND(ErrorKind::kConfig, first != std::string::npos, origin, ": no value (write \"", key_path,
                "=''\" for an empty string, or ", key_path, "=null for the default)");
  // yaml-cpp would read past a line break into more keys of its own document
  // and drop them with the rest of the value.
  RF_CHECK_KIND(ErrorKind::kConfig, value_text.find_first_of("\r\n") == std::string::npos, origin,
                ": the value spans lines; a --set value is one line");
  // A value starting with '#' is that text (YAML would read a comment: null,
  // which would quietly mean the default).
  if (value_text[first] != '#') {
    const std::size_t comment = comment_start(value_text);
    RF_CHECK_KIND(ErrorKind::kConfig, comment == std::string::npos, origin, ": YAML reads '",
                  value_text.substr(comment), "' as a comment and would drop it; quote the value to keep it (",
                  key_path, "='...')");
  }
  ConfigNode value = value_text[first] == '#' ? ConfigNode::scalar(value_text.substr(first), "v", {origin, 1, 1})
                                              : load_config_string("v: " + value_text, origin)["v"];
  ConfigNode* node = &root;
  std::string path;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = key_path.find('.', start);
    const std::string key = key_path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    RF_CHECK_KIND(ErrorKind::kConfig, !key.empty(), origin, ": empty key in '", key_path, "'");
    path = path.empty() ? key : path + "." + key;
    if (node->is_null()) *node = ConfigNode::map(node->path(), SourceLocation{origin});
    RF_CHECK_KIND(ErrorKind::kConfig, node->is_map(), origin, ": '", node->path(), "' is not a section");
    if (dot == std::string::npos) {
      value.set_path(path);
      ConfigNode located = value.is_scalar() ? ConfigNode::scalar(value.text(), path, SourceLocation{origin})
                                             : value;
      node->set(key, std::move(located));
      return;
    }
    ConfigNode* child = node->find(key);
    if (child == nullptr) child = &node->set(key, ConfigNode::map(path, SourceLocation{origin}));
    node = child;
    start = dot + 1;
  }
}

}  // namespace recforge
