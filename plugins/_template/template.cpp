// The plugin template: the smallest model recforge accepts. Copy the folder,
// rename `TemplateModel` and "template", and fill in the model.
#include "recforge/config/schema.hpp"
#include "recforge/model/model.hpp"
#include "recforge/registry/plugin_registry.hpp"

namespace {

class TemplateModel final : public recforge::Model {
 public:
  // Every key the model reads, with type, default, range and one line of help.
  static recforge::Schema config_schema() {
    recforge::Schema s("Template model: a starting point for new plugins");
    s.add_int("dim", 16, "embedding dimension", 1, 4096);
    return s;
  }

  explicit TemplateModel(const recforge::ConfigNode& config) : dim_(config.get_int("dim")) {}
  std::string_view type() const override { return "template"; }

 private:
  std::int64_t dim_;
};

}  // namespace

RF_REGISTER_MODEL("template", TemplateModel);
