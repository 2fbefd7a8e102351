// PluginRegistry: name -> factory, one instance per plugin kind, living in librecforge.
#include "recforge/registry/plugin_registry.hpp"

#include <algorithm>

#include "recforge/eval/evaluator.hpp"
#include "recforge/model/model.hpp"

namespace recforge {

template <class Base>
PluginRegistry<Base>& PluginRegistry<Base>::instance() {
  static PluginRegistry registry;
  return registry;
}

template <class Base>
void PluginRegistry<Base>::add(Entry entry) {
  RF_CHECK(!entry.name.empty(), Base::kPluginKind, " registered with an empty name at ", entry.origin);
  if (const Entry* existing = find(entry.name)) {
    RF_THROW(ErrorKind::kInvalidArgument, Base::kPluginKind, " '", entry.name, "' is registered twice: at ",
             existing->origin, " and at ", entry.origin);
  }
  entries_.push_back(std::move(entry));
}

template <class Base>
const typename PluginRegistry<Base>::Entry* PluginRegistry<Base>::find(std::string_view name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

template <class Base>
const typename PluginRegistry<Base>::Entry& PluginRegistry<Base>::get(std::string_view name) const {
  if (const Entry* e = find(name)) return *e;
  const std::vector<std::string> known = names();
  std::string list;
  for (const std::string& n : known) list += (list.empty() ? "" : ", ") + n;
  const auto hint = closest_match(name, known);
  RF_THROW(ErrorKind::kNotFound, "unknown ", Base::kPluginKind, " '", name, "'",
           hint ? "; did you mean '" + *hint + "'?" : std::string(), " (known: ",
           list.empty() ? std::string("none registered") : list,
           "; out-of-tree plugins are loaded with `plugins:` in the config)");
}

template <class Base>
std::vector<std::string> PluginRegistry<Base>::names() const {
  std::vector<std::string> out;
  for (const Entry& e : entries_) out.push_back(e.name);
  std::sort(out.begin(), out.end());
  return out;
}

template <class Base>
void PluginRegistry<Base>::roll_back_to(std::size_t count) {
  if (count < entries_.size())
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(count), entries_.end());
}

template <class Base>
void PluginRegistry<Base>::remove_for_testing(std::string_view name) {
  std::erase_if(entries_, [&](const Entry& e) { return e.name == name; });
}

template class PluginRegistry<Model>;
template class PluginRegistry<Evaluator>;

}  // namespace recforge
