// YAML loading: locations, syntax errors, size and depth caps, --set overrides.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "recforge/config/config_node.hpp"
#include "testing/error_testing.hpp"
#include "testing/temp_dir.hpp"

namespace recforge {
namespace {

TEST(YamlLoader, RecordsLineAndColumnOfEveryNode) {
  const ConfigNode root = load_config_string("run:\n  name: x\n  seed: 3\n", "f.yaml");
  const ConfigNode& seed = root.section("run")["seed"];
  EXPECT_EQ(seed.location().str(), "f.yaml:3:9");
  EXPECT_EQ(seed.path(), "run.seed");
  EXPECT_EQ(seed.as_int(), 3);
}

TEST(YamlLoader, SyntaxErrorsNameTheLine) {
  RF_EXPECT_ERROR(load_config_string("a: [1, 2\nb: 3\n", "bad.yaml"), ErrorKind::kConfig, "bad.yaml:");
  RF_EXPECT_ERROR(load_config_string("a: [1, 2\nb: 3\n", "bad.yaml"), ErrorKind::kConfig, "invalid YAML");
}

TEST(YamlLoader, TopLevelMustBeAMap) {
  RF_EXPECT_ERROR(load_config_string("- 1\n- 2\n", "l.yaml"), ErrorKind::kConfig, "must be a map of sections");
}

TEST(YamlLoader, EmptyFileIsAnEmptyMap) {
  EXPECT_TRUE(load_config_string("", "e.yaml").is_map());
  EXPECT_TRUE(load_config_string("# only a comment\n", "e.yaml").is_map());
}

TEST(YamlLoader, DeepNestingIsRejectedBeforeParsing) {
  std::string flow(100, '[');
  flow += std::string(100, ']');
  RF_EXPECT_ERROR(load_config_string("a: " + flow, "deep.yaml"), ErrorKind::kConfig, "the limit is 32");
  std::string block;
  for (int i = 0; i < 40; ++i) block += std::string(static_cast<std::size_t>(i), ' ') + "k" + std::to_string(i) + ":\n";
  RF_EXPECT_ERROR(load_config_string(block, "deep.yaml"), ErrorKind::kConfig, "the limit is 32");
}

TEST(YamlLoader, OversizedInputIsRejected) {
  const std::string big = "a: \"" + std::string(2 << 20, 'x') + "\"\n";
  RF_EXPECT_ERROR(load_config_string(big, "big.yaml"), ErrorKind::kConfig, "the limit is 1048576");
}

TEST(YamlLoader, AliasBombIsRejected) {
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 8; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev + ", " + prev + ", " + prev + ", " +
            prev + ", " + prev + ", " + prev + ", " + prev + ", " + prev + ", " + prev + ", " + prev + "]\n";
  }
  RF_EXPECT_ERROR(load_config_string(yaml, "bomb.yaml"), ErrorKind::kConfig, "YAML nodes");
}

// A config is one document: a second would be dropped. Markers alone (a
// leading or trailing `---`, a final `...`) start no second document.
TEST(YamlLoader, ASecondDocumentIsAnError) {
  RF_EXPECT_ERROR(load_config_string("a: 1\n---\nb: 2\n", "two.yaml"), ErrorKind::kConfig,
                  "two.yaml:2: a second YAML document");
  RF_EXPECT_ERROR(load_config_string("# c\na: 1\n...\n# c\nb: 2\n", "end.yaml"), ErrorKind::kConfig,
                  "end.yaml:3: a second YAML document");
  RF_EXPECT_ERROR(load_config_string("a: 1\n--- {b: 2}\n", "inline.yaml"), ErrorKind::kConfig,
                  "inline.yaml:2: a second YAML document");
  EXPECT_EQ(load_config_string("# c\n---\na: 1\n---\n# only a comment\n...\n", "one.yaml")["a"].as_int(), 1);
  EXPECT_EQ(load_config_string("a: |\n  ---\n  text\n", "block.yaml")["a"].as_string(), "---\ntext\n");
}

// yaml-cpp reads some invalid bytes as a byte-order mark and the rest as
// nothing (a config of defaults); its LoadAll loops on this one (the fuzzer's).
TEST(YamlLoader, InvalidUtf8IsRejectedWithItsPosition) {
  RF_EXPECT_ERROR(load_config_string("a: 1\nb: \"x\xfe\xff\"\n", "bom.yaml"), ErrorKind::kConfig,
                  "bom.yaml:2:6: config is not valid UTF-8");
  RF_EXPECT_ERROR(load_config_string("\xc3", "cut.yaml"), ErrorKind::kConfig, "cut.yaml:1:1: config is not valid UTF-8");
  EXPECT_EQ(load_config_string("name: \"caf\xc3\xa9\"\n", "ok.yaml")["name"].as_string(), "caf\xc3\xa9");
}

TEST(YamlLoader, MissingFileIsAConfigError) {
  RF_EXPECT_ERROR(load_config_file("/nonexistent/x.yaml"), ErrorKind::kConfig,
                  "config file '/nonexistent/x.yaml' does not exist");
}

TEST(YamlLoader, LoadsFromAFile) {
  testing::TempDir dir;
  const std::string path = dir.file("job.yaml");
  std::ofstream(path) << "model:\n  type: als\n";
  const ConfigNode root = load_config_file(path);
  EXPECT_EQ(root.section("model").get_string("type"), "als");
  EXPECT_EQ(root.section("model")["type"].location().line, 2);
}

TEST(ConfigOverride, SetsCreatesAndReplaces) {
  ConfigNode root = load_config_string("train:\n  epochs: 3\n", "o.yaml");
  apply_config_override(root, "train.epochs=10");
  apply_config_override(root, "train.optimizer.lr=0.5");
  apply_config_override(root, "eval.k=[5, 10]");
  EXPECT_EQ(root.section("train").get_int("epochs"), 10);
  EXPECT_EQ(root.section("train")["epochs"].location().file, "--set train.epochs=10");
  EXPECT_DOUBLE_EQ(root.section("train").section("optimizer").get_double("lr"), 0.5);
  EXPECT_EQ(root.section("eval")["k"].as_int_list(), (std::vector<std::int64_t>{5, 10}));
}

TEST(ConfigOverride, MalformedAssignmentsAreErrors) {
  ConfigNode root = load_config_string("a: 1\n", "o.yaml");
  RF_EXPECT_ERROR(apply_config_override(root, "no_equals_sign"), ErrorKind::kConfig, "expected key.path=value");
  RF_EXPECT_ERROR(apply_config_override(root, "a.b=3"), ErrorKind::kConfig, "'a' is not a section");
  RF_EXPECT_ERROR(apply_config_override(root, "x..y=3"), ErrorKind::kConfig, "empty key");
  // YAML reads an empty value as null, which would quietly mean the default.
  RF_EXPECT_ERROR(apply_config_override(root, "a= "), ErrorKind::kConfig,
                  "--set a= : no value (write \"a=''\" for an empty string, or a=null for the default)");
  apply_config_override(root, "a=''");
  EXPECT_EQ(root["a"].as_string(), "");
  // A value starting with '#' is that text, not a YAML comment (null: the default).
  apply_config_override(root, "a=#");
  EXPECT_EQ(root["a"].as_string(), "#");
  apply_config_override(root, "a= #x y");
  EXPECT_EQ(root["a"].as_string(), "#x y");
  // --resume's quoted path: what YAML reads otherwise (" #", ": ") stays in it.
  apply_config_override(root, "a='runs/exp #3: it''s/checkpoints'");
  EXPECT_EQ(root["a"].as_string(), "runs/exp #3: it's/checkpoints");
}

TEST(ConfigOverride, AnUnquotedCommentIsRefusedNotDropped) {
  ConfigNode root = load_config_string("a: 1\n", "o.yaml");
  // YAML would read "runs/exp" and drop the rest: a different directory, quietly.
  RF_EXPECT_ERROR(apply_config_override(root, "a=runs/exp #3"), ErrorKind::kConfig,
                  "--set a=runs/exp #3: YAML reads '#3' as a comment and would drop it; quote the value to keep "
                  "it (a='...')");
  // An apostrophe inside a plain scalar opens no quote.
  RF_EXPECT_ERROR(apply_config_override(root, "a=it's #1"), ErrorKind::kConfig, "reads '#1' as a comment");
  RF_EXPECT_ERROR(apply_config_override(root, "a=[x, y] #z"), ErrorKind::kConfig, "reads '#z' as a comment");
  RF_EXPECT_ERROR(apply_config_override(root, "a=x,'y #z'"), ErrorKind::kConfig, "reads '#z'' as a comment");
  EXPECT_EQ(root["a"].as_string(), "1");  // nothing was applied
  // Inside quotes, or without whitespace before it, '#' is text.
  apply_config_override(root, "a=\"x \\\" #y\"");
  EXPECT_EQ(root["a"].as_string(), "x \" #y");
  apply_config_override(root, "a=x#y");
  EXPECT_EQ(root["a"].as_string(), "x#y");
  apply_config_override(root, "a=[x, 'y #z', {k: \"v #w\"}]");
  ASSERT_EQ(root["a"].items().size(), 3U);
  EXPECT_EQ(root["a"].items()[1].as_string(), "y #z");
  EXPECT_EQ(root["a"].items()[2].get_string("k"), "v #w");
  // A line break would let the value add keys that are then dropped.
  RF_EXPECT_ERROR(apply_config_override(root, "a=1\nb: 2"), ErrorKind::kConfig,
                  ": the value spans lines; a --set value is one line");
}

TEST(ConfigNode, ToYamlRoundTrips) {
  const ConfigNode root = load_config_string("a:\n  b: 1\n  c: [x, y]\nd: hello world\n", "r.yaml");
  const ConfigNode again = load_config_string(root.to_yaml(), "again.yaml");
  EXPECT_EQ(again.section("a").get_int("b"), 1);
  EXPECT_EQ(again.section("a")["c"].as_string_list(), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(again.get_string("d"), "hello world");
}

}  // namespace
}  // namespace recforge
