// Schema validation: defaults, types, ranges, unknown and duplicate keys with
// file:line:col and did-you-mean, required keys, choices, nested sections.
#include <gtest/gtest.h>

#include "recforge/config/schema.hpp"
#include "testing/error_testing.hpp"

namespace recforge {
namespace {

Schema als_like() {
  Schema embedding("embedding table");
  embedding.add_int("dim", 64, "embedding dimension", 1, 4096).add_string("init", "normal", "init", {"normal", "uniform"});
  Schema s("model");
  s.add_int("factors", 64, "latent dimension", 1, 4096)
      .add_float("regularization", 0.01, "L2 weight", 0.0)
      .add_bool("use_bias", false, "learn biases")
      .add_string("solver", "cg", "solver", {"cg", "cholesky"})
      .add_int_list("k", {10, 20}, "cut-offs", 1)
      .add_optional_int("max_items", "cap", 1)
      .add_section("embedding", embedding, "embedding options");
  return s;
}

ConfigNode resolve(const std::string& yaml) {
  return als_like().resolve(load_config_string(yaml, "test.yaml"), "model");
}

TEST(Schema, FillsDefaults) {
  const ConfigNode c = resolve("");
  EXPECT_EQ(c.get_int("factors"), 64);
  EXPECT_DOUBLE_EQ(c.get_double("regularization"), 0.01);
  EXPECT_FALSE(c.get_bool("use_bias"));
  EXPECT_EQ(c.get_string("solver"), "cg");
  EXPECT_EQ(c["k"].as_int_list(), (std::vector<std::int64_t>{10, 20}));
  EXPECT_TRUE(c["max_items"].is_null());
  EXPECT_EQ(c.section("embedding").get_int("dim"), 64);
  EXPECT_EQ(c.section("embedding")["dim"].path(), "model.embedding.dim");
}

TEST(Schema, KeepsGivenValues) {
  const ConfigNode c = resolve("factors: 128\nregularization: 5\nsolver: cholesky\nk: [5]\nembedding: {dim: 8}");
  EXPECT_EQ(c.get_int("factors"), 128);
  EXPECT_DOUBLE_EQ(c.get_double("regularization"), 5.0);
  EXPECT_EQ(c.get_string("solver"), "cholesky");
  EXPECT_EQ(c["k"].as_int_list(), (std::vector<std::int64_t>{5}));
  EXPECT_EQ(c.section("embedding").get_int("dim"), 8);
  EXPECT_EQ(c.section("embedding").get_string("init"), "normal");
}

TEST(Schema, UnknownKeyNamesFileLinePathAndClosestKey) {
  RF_EXPECT_ERROR(resolve("factors: 8\nfactrs: 16\n"), ErrorKind::kConfig,
                  "test.yaml:2:1: unknown key 'model.factrs'; did you mean 'factors'?");
}

TEST(Schema, UnknownNestedKeyListsValidKeys) {
  RF_EXPECT_ERROR(resolve("embedding:\n  size: 3\n"), ErrorKind::kConfig,
                  "test.yaml:2:3: unknown key 'model.embedding.size' (valid keys in 'model.embedding': dim, init)");
}

TEST(Schema, DuplicateKeyNamesBothLines) {
  RF_EXPECT_ERROR(resolve("factors: 8\nsolver: cg\nfactors: 16\n"), ErrorKind::kConfig,
                  "test.yaml:3:1: duplicate key 'model.factors' (first given at test.yaml:1:1)");
}

TEST(Schema, WrongTypeNamesPathAndValue) {
  RF_EXPECT_ERROR(resolve("factors: lots\n"), ErrorKind::kConfig,
                  "test.yaml:1:10: model.factors: expected an integer, got 'lots'");
  RF_EXPECT_ERROR(resolve("factors: 1.5\n"), ErrorKind::kConfig, "model.factors: expected an integer, got '1.5'");
  RF_EXPECT_ERROR(resolve("use_bias: yes\n"), ErrorKind::kConfig, "model.use_bias: expected true or false, got 'yes'");
  RF_EXPECT_ERROR(resolve("embedding: 3\n"), ErrorKind::kConfig, "model.embedding: expected a section");
  RF_EXPECT_ERROR(resolve("k: 10\n"), ErrorKind::kConfig, "model.k: expected a list of integers, got '10'");
  RF_EXPECT_ERROR(resolve("factors: [1, 2]\n"), ErrorKind::kConfig, "expected an integer, got a list");
}

TEST(Schema, OutOfRangeSaysTheRange) {
  RF_EXPECT_ERROR(resolve("factors: -3\n"), ErrorKind::kConfig,
                  "model.factors: expected an integer in [1, 4096], got -3");
  RF_EXPECT_ERROR(resolve("regularization: -0.5\n"), ErrorKind::kConfig,
                  "model.regularization: expected a number >= 0.0, got -0.5");
  RF_EXPECT_ERROR(resolve("k: [10, 0]\n"), ErrorKind::kConfig, "model.k[1]: expected an integer >= 1, got 0");
}

TEST(Schema, ListLengthsAndItemRangesAreCheckedAndDocumented) {
  Schema s("eval");
  s.add_int_list("k", {10, 20}, "cut-offs", 1, 100, 1, 3);
  const auto resolve_k = [&](const std::string& text) { return s.resolve(load_config_string(text, "e.yaml"), "eval"); };
  EXPECT_EQ(resolve_k("k: [1, 2, 3]\n")["k"].as_int_list(), (std::vector<std::int64_t>{1, 2, 3}));
  RF_EXPECT_ERROR(resolve_k("k: [1, 2, 3, 4]\n"), ErrorKind::kConfig, "e.yaml:1:4: eval.k: expected 1 to 3 items, got 4");
  RF_EXPECT_ERROR(resolve_k("k: []\n"), ErrorKind::kConfig, "e.yaml:1:4: eval.k: expected 1 to 3 items, got 0");
  RF_EXPECT_ERROR(resolve_k("k: [101]\n"), ErrorKind::kConfig, "eval.k[0]: expected an integer in [1, 100], got 101");
  EXPECT_NE(s.document("eval").find("cut-offs; each an integer in [1, 100]; 1 to 3 items |"), std::string::npos)
      << s.document("eval");
}

TEST(Schema, NonFiniteAndHugeNumbersAreRejected) {
  RF_EXPECT_ERROR(resolve("regularization: .nan\n"), ErrorKind::kConfig, "expected a number");
  RF_EXPECT_ERROR(resolve("regularization: 1e309\n"), ErrorKind::kConfig, "expected a finite number");
  RF_EXPECT_ERROR(resolve("factors: 99999999999999999999\n"), ErrorKind::kConfig, "within 64 bits");
}

TEST(Schema, ChoicesAreEnforcedWithAHint) {
  RF_EXPECT_ERROR(resolve("solver: cholesy\n"), ErrorKind::kConfig,
                  "model.solver: expected one of cg, cholesky, got 'cholesy'; did you mean 'cholesky'?");
}

TEST(Schema, RequiredKeysMustBeGiven) {
  Schema s("data");
  s.add_required_string("path", "ratings file");
  RF_EXPECT_ERROR(s.resolve(load_config_string("{}", "d.yaml"), "data"), ErrorKind::kConfig,
                  "missing required key 'data.path' (ratings file)");
  EXPECT_EQ(s.resolve(load_config_string("path: r.csv", "d.yaml"), "data").get_string("path"), "r.csv");
}

TEST(Schema, DocumentListsEveryKeyWithDefaultAndRange) {
  const std::string doc = als_like().document("model");
  EXPECT_NE(doc.find("| `model.factors` | int | `64` | latent dimension; an integer in [1, 4096] |"), std::string::npos)
      << doc;
  EXPECT_NE(doc.find("| `model.embedding.init` | string | `normal` | init (one of: normal, uniform) |"),
            std::string::npos)
      << doc;
  EXPECT_NE(doc.find("| `model.max_items` | int | `(none)` |"), std::string::npos) << doc;
}

TEST(Schema, EditDistanceAndClosestMatch) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(closest_match("factrs", {"factors", "solver"}), "factors");
  EXPECT_EQ(closest_match("zzzzzz", {"factors", "solver"}), std::nullopt);
}

}  // namespace
}  // namespace recforge
