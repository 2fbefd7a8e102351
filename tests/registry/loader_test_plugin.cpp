// A model plugin library used by plugin_loader_test (built in two ABI variants).
#include "recforge/model/model.hpp"
#include "recforge/registry/plugin_registry.hpp"

namespace {
class LoaderTestModel final : public recforge::Model {
 public:
  static recforge::Schema config_schema() {
    recforge::Schema s("model from a dlopen()ed test library");
    s.add_int("width", 3, "a key with a default");
    return s;
  }
  explicit LoaderTestModel(const recforge::ConfigNode&) {}
  std::string_view type() const override { return LOADER_TEST_MODEL_NAME; }
  std::vector<recforge::Parameter*> parameters() override { return {}; }

 protected:
  void build_impl(const recforge::ModelContext&) override {}

 public:
};
}  // namespace

RF_REGISTER_MODEL(LOADER_TEST_MODEL_NAME, LoaderTestModel);
