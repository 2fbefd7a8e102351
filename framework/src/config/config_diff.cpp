// config_diff.hpp: leaves of a to_yaml() dump (two spaces per level; flow
// sequences such as [10, 20] stay one value) and their differences.
#include "recforge/config/config_diff.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <sstream>

namespace recforge {

std::map<std::string, std::string> config_leaves(const std::string& yaml) {
  std::map<std::string, std::string> leaves;
  std::vector<std::string> path;
  std::istringstream in(yaml);
  for (std::string line; std::getline(in, line);) {
    const std::size_t indent = line.find_first_not_of(' ');
    if (indent == std::string::npos) continue;
    const std::size_t colon = line.find(':', indent);
    if (colon == std::string::npos) continue;
    path.resize(std::min(path.size(), indent / 2));
    const std::string key = line.substr(indent, colon - indent);
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : std::string();
    if (value.empty()) {
      path.push_back(key);  // a section: its keys follow, indented
      continue;
    }
    std::string full;
    for (const std::string& p : path) full += p + ".";
    leaves[full + key] = value;
  }
  return leaves;
}

std::vector<std::string> config_differences(const std::string& yaml_a, const std::string& a_name,
                                            const std::string& yaml_b, const std::string& b_name) {
  const auto a = config_leaves(yaml_a), b = config_leaves(yaml_b);
  std::set<std::string> keys;
  for (const auto& [key, value] : a) keys.insert(key);
  for (const auto& [key, value] : b) keys.insert(key);
  std::vector<std::string> out;
  for (const std::string& key : keys) {
    const auto ia = a.find(key), ib = b.find(key);
    const std::string va = ia == a.end() ? "(absent)" : ia->second, vb = ib == b.end() ? "(absent)" : ib->second;
    if (va != vb) out.push_back(fmt::format("{}: {} on {}, {} on {}", key, va, a_name, vb, b_name));
  }
  return out;
}

}  // namespace recforge
