// Registries of models and evaluators by name ("als", "ncf", "ranking", ...).
//
// A plugin registers its class at the end of its own source file:
//
//   RF_REGISTER_MODEL("als", AlsModel);   // AlsModel(const ConfigNode&), static Schema config_schema()
//
// and the trainer builds it from the config's `type:` string:
//
//   auto model = ModelRegistry::instance().get(cfg.get_string("type")).create(cfg);
//
// An unknown name lists the known ones (and the closest); registering a name
// twice names both places. The same macro works for in-tree plugins (linked
// into the binary) and for out-of-tree plugins (shared libraries loaded by
// plugin_loader.hpp): in a library build (RECFORGE_PLUGIN_LIBRARY defined by
// recforge_add_plugin) registrations are queued inside the library and applied
// only after the loader has checked the library's ABI version.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "recforge/config/schema.hpp"
#include "recforge/registry/kernel_registry.hpp"  // RF_CONCAT
#include "recforge/registry/plugin_queue.hpp"

namespace recforge {

class Model;
class Evaluator;

template <class Base>
class PluginRegistry {
 public:
  using Factory = std::unique_ptr<Base> (*)(const ConfigNode& section);
  using SchemaFn = Schema (*)();
  struct Entry {
    std::string name;
    Factory create;
    SchemaFn schema;
    std::string origin;  // file:line, or the library path for loaded plugins
  };

  static PluginRegistry& instance();

  void add(Entry entry);
  const Entry* find(std::string_view name) const;
  // Throws kNotFound listing the known names (and the closest one) if `name` is unknown.
  const Entry& get(std::string_view name) const;
  std::vector<std::string> names() const;
  // Entries are only appended: the loader undoes a refused library's
  // registrations by rolling back to the count it saw before.
  std::size_t count() const { return entries_.size(); }
  void roll_back_to(std::size_t count);
  void remove_for_testing(std::string_view name);

 private:
  PluginRegistry() = default;
  std::vector<Entry> entries_;
};

using ModelRegistry = PluginRegistry<Model>;
using EvaluatorRegistry = PluginRegistry<Evaluator>;
extern template class PluginRegistry<Model>;
extern template class PluginRegistry<Evaluator>;

namespace detail {

template <class Base, class Class>
std::unique_ptr<Base> make_plugin(const ConfigNode& config) {
  return std::make_unique<Class>(config);
}

#ifndef RECFORGE_PLUGIN_LIBRARY
template <class Base>
struct PluginRegistrar {
  PluginRegistrar(const char* name, typename PluginRegistry<Base>::Factory create,
                  typename PluginRegistry<Base>::SchemaFn schema, const char* file, int line) {
    PluginRegistry<Base>::instance().add({name, create, schema, source_location(file, line)});
  }
};
#else
// Inside a plugin library: queue, and let recforge_plugin_register() apply the queue.
template <class Base>
struct PluginLibraryRegistrar {
  PluginLibraryRegistrar(const char* name, typename PluginRegistry<Base>::Factory create,
                         typename PluginRegistry<Base>::SchemaFn schema, const char* file, int line) {
    const std::string where = source_location(file, line);
    pending_plugin_registrations().push_back([=](const std::string& library) {
      PluginRegistry<Base>::instance().add({name, create, schema, library + " (" + where + ")"});
    });
  }
};
#endif

}  // namespace detail
}  // namespace recforge

#ifdef RECFORGE_PLUGIN_LIBRARY
#define RF_PLUGIN_REGISTRAR ::recforge::detail::PluginLibraryRegistrar
#else
#define RF_PLUGIN_REGISTRAR ::recforge::detail::PluginRegistrar
#endif

#define RF_REGISTER_PLUGIN(Base, name, Class)                                              \
  static const RF_PLUGIN_REGISTRAR<Base> RF_CONCAT(rf_plugin_registrar_, __LINE__)(        \
      name, &::recforge::detail::make_plugin<Base, Class>, &Class::config_schema, __FILE__, __LINE__)

#define RF_REGISTER_MODEL(name, Class) RF_REGISTER_PLUGIN(::recforge::Model, name, Class)
#define RF_REGISTER_EVALUATOR(name, Class) RF_REGISTER_PLUGIN(::recforge::Evaluator, name, Class)
