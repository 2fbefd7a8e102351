// Plugin registry: build by name, unknown names list the known ones, duplicates name both places.
#include <gtest/gtest.h>

#include "recforge/model/model.hpp"
#include "recforge/registry/plugin_registry.hpp"
#include "testing/error_testing.hpp"

namespace recforge {
namespace {

class RegistryTestModel final : public Model {
 public:
  static Schema config_schema() {
    Schema s("a model used by the registry tests");
    s.add_int("factors", 8, "latent dimension", 1);
    return s;
  }
  explicit RegistryTestModel(const ConfigNode& config) : factors(config.get_int("factors")) {}
  std::string_view type() const override { return "registry_test_model"; }
  std::vector<recforge::Parameter*> parameters() override { return {}; }

 protected:
  void build_impl(const recforge::ModelContext&) override {}

 public:
  std::int64_t factors;
};

constexpr int kRegisteredAt = __LINE__ + 1;
RF_REGISTER_MODEL("registry_test_model", RegistryTestModel);
const std::string kOrigin = "tests/registry/plugin_registry_test.cpp:" + std::to_string(kRegisteredAt);

TEST(PluginRegistry, CreatesTheRegisteredModelFromItsResolvedConfig) {
  const auto& entry = ModelRegistry::instance().get("registry_test_model");
  const ConfigNode resolved = entry.schema().resolve(load_config_string("factors: 12"));
  auto model = entry.create(resolved);
  EXPECT_EQ(model->type(), "registry_test_model");
  EXPECT_EQ(dynamic_cast<RegistryTestModel&>(*model).factors, 12);
  EXPECT_EQ(entry.origin, kOrigin);
}

TEST(PluginRegistry, UnknownNameListsKnownNamesAndTheClosest) {
  RF_EXPECT_ERROR(ModelRegistry::instance().get("registry_test_modle"), ErrorKind::kNotFound,
                  "unknown model 'registry_test_modle'; did you mean 'registry_test_model'?");
  RF_EXPECT_ERROR(ModelRegistry::instance().get("xyz"), ErrorKind::kNotFound, "registry_test_model");
}

TEST(PluginRegistry, RegisteringANameTwiceNamesBothPlaces) {
  const auto& first = ModelRegistry::instance().get("registry_test_model");
  RF_EXPECT_ERROR(ModelRegistry::instance().add({"registry_test_model", first.create, first.schema, "other.cpp:9"}),
                  ErrorKind::kInvalidArgument,
                  "model 'registry_test_model' is registered twice: at " + kOrigin + " and at other.cpp:9");
}

TEST(PluginRegistry, EvaluatorsHaveTheirOwnRegistry) {
  EXPECT_EQ(EvaluatorRegistry::instance().find("registry_test_model"), nullptr);
  RF_EXPECT_ERROR(EvaluatorRegistry::instance().get("nope"), ErrorKind::kNotFound, "unknown evaluator 'nope'");
}

}  // namespace
}  // namespace recforge
