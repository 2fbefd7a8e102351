// The job config: sections assembled from components, model sections by type.
#include <gtest/gtest.h>

#include "recforge/config/job_config.hpp"
#include "recforge/model/model.hpp"
#include "recforge/registry/plugin_registry.hpp"
#include "testing/error_testing.hpp"

namespace recforge {
namespace {

class JobConfigTestModel final : public Model {
 public:
  static Schema config_schema() {
    Schema s("model for job config tests");
    s.add_int("factors", 16, "latent dimension", 1);
    return s;
  }
  explicit JobConfigTestModel(const ConfigNode&) {}
  std::string_view type() const override { return "job_config_test_model"; }
  std::vector<recforge::Parameter*> parameters() override { return {}; }

 protected:
  void build_impl(const recforge::ModelContext&) override {}

 public:
};
RF_REGISTER_MODEL("job_config_test_model", JobConfigTestModel);

TEST(JobConfig, ResolvesRunDefaultsAndTheSelectedModelsKeys) {
  const ConfigNode c = resolve_job_config(load_config_string("model:\n  type: job_config_test_model\n", "j.yaml"));
  EXPECT_EQ(c.section("run").get_int("seed"), 42);
  EXPECT_EQ(c.section("run").get_string("device"), "auto");
  EXPECT_EQ(c.section("model").get_string("type"), "job_config_test_model");
  EXPECT_EQ(c.section("model").get_int("factors"), 16);
}

TEST(JobConfig, ModelKeysAreValidatedAgainstThatModel) {
  RF_EXPECT_ERROR(resolve_job_config(load_config_string("model:\n  type: job_config_test_model\n  factor: 3\n", "j.yaml")),
                  ErrorKind::kConfig, "j.yaml:3:3: unknown key 'model.factor'; did you mean 'factors'?");
}

TEST(JobConfig, UnknownModelTypeNamesTheLineAndListsKnownModels) {
  RF_EXPECT_ERROR(resolve_job_config(load_config_string("model:\n  type: job_config_test_modl\n", "j.yaml")),
                  ErrorKind::kConfig,
                  "j.yaml:2:9: model.type: unknown model 'job_config_test_modl'; did you mean 'job_config_test_model'?");
}

TEST(JobConfig, AMisspeltTypeKeyIsCalledATypo) {
  RF_EXPECT_ERROR(resolve_job_config(load_config_string("model:\n  factors: 3\n  tpe: job_config_test_model\n",
                                                        "j.yaml")),
                  ErrorKind::kConfig, "j.yaml:3:3: unknown key 'model.tpe'; did you mean 'type'?");
  RF_EXPECT_ERROR(resolve_job_config(load_config_string("model:\n  factors: 3\n", "j.yaml")), ErrorKind::kConfig,
                  "j.yaml:2:3: section 'model' needs a 'type' key");
}

TEST(JobConfig, ATypeThatIsNotAStringNamesTheKey) {
  RF_EXPECT_ERROR(resolve_job_config(load_config_string("model:\n  type: [a, b]\n", "j.yaml")), ErrorKind::kConfig,
                  "j.yaml:2:9: model.type: expected a string, got a list");
  RF_EXPECT_ERROR(resolve_job_config(load_config_string("eval:\n  type:\n    type: ranking\n", "j.yaml")),
                  ErrorKind::kConfig, "j.yaml:3:5: eval.type: expected a string, got a map");
}

TEST(JobConfig, ModelSectionIsOptionalForDataOnlyJobs) {
  const ConfigNode c = resolve_job_config(load_config_string("run: {seed: 1}\n", "j.yaml"));
  EXPECT_TRUE(c["model"].is_null());
  EXPECT_EQ(c.section("data").get_string("format"), "auto");
}

TEST(JobConfig, UnknownTopLevelSection) {
  RF_EXPECT_ERROR(resolve_job_config(load_config_string("rn: {}\nmodel: {type: job_config_test_model}\n", "j.yaml")),
                  ErrorKind::kConfig, "unknown key 'rn'; did you mean 'run'?");
}

TEST(JobConfig, MarkdownDocumentsEveryRegisteredModel) {
  const std::string md = job_schema_markdown();
  EXPECT_NE(md.find("| `run.seed` | int | `42` |"), std::string::npos);
  EXPECT_NE(md.find("### model.type: job_config_test_model"), std::string::npos);
  EXPECT_NE(md.find("| `model.factors` | int | `16` |"), std::string::npos);
}

}  // namespace
}  // namespace recforge
