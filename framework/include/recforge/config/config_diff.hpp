// Which keys differ between two resolved configs (ConfigNode::to_yaml dumps):
// how a job whose ranks were started with different settings says what differs.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace recforge {

// "section.key" -> value for every leaf of a block-style YAML dump.
std::map<std::string, std::string> config_leaves(const std::string& yaml);

// "key: <a> on <a_name>, <b> on <b_name>" for each differing key, sorted by key.
std::vector<std::string> config_differences(const std::string& yaml_a, const std::string& a_name,
                                            const std::string& yaml_b, const std::string& b_name);

}  // namespace recforge
