// The checkpoint file: a full round trip, row reads, and the reader refusing
// newer formats, foreign files, soft/external links (never opening what they
// name) and corrupt bytes without ever crashing.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <random>

#include "recforge/checkpoint/checkpoint_file.hpp"
#include "testing/error_testing.hpp"
#include "testing/open_watch.hpp"
#include "testing/temp_dir.hpp"
#include "testing/tensor_testing.hpp"

namespace recforge::checkpoint {
namespace {

Tensor ramp(Shape shape, float start) {
  Tensor t = Tensor::empty(shape, DType::kF32);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = start + 0.25f * static_cast<float>(i);
  return t;
}

Contents sample_contents() {
  Contents c;
  c.meta.model_type = "mf";
  c.meta.world_size = 2;
  c.meta.seed = 42;
  c.meta.dataset_name = "synthetic/tiny";
  c.meta.dataset_fingerprint = "abc123";
  c.meta.config_yaml = "model:\n  type: mf\n";
  c.meta.model_revision = 3;
  c.position = {.epoch = 3, .step_in_epoch = 7, .global_step = 37, .epoch_loss_sum = 1.5, .epoch_examples = 700,
                .best_value = 0.25, .best_epoch = 2, .evals_since_best = 1};
  c.params.push_back({"mf.user_factors", "embedding", ramp({5, 3}, 0.0f), {{"momentum", ramp({5, 3}, -1.0f)}}});
  c.params.push_back({"mf.global_bias", "dense", ramp({1}, 3.5f), {}});
  c.users = data::IdMap::strings({"alice", "bob", "carol", "dave", "eve"});
  c.items = data::IdMap::integers({10, 20, 30, 40});
  c.serving.user_embeddings = ramp({5, 2}, 1.0f);
  c.serving.item_embeddings = ramp({4, 2}, 2.0f);
  c.serving.item_bias_columns = 1;
  c.serving.item_popularity = {3, 0, 2, 1};
  c.serving.seen_offsets = {0, 2, 2, 3, 5, 6};
  c.serving.seen_items = {3, 0, 2, 0, 2, 0};
  c.metrics = {{"ndcg@10", 0.125}, {"recall@10", 0.5}};
  return c;
}

std::shared_ptr<std::vector<std::uint8_t>> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::make_shared<std::vector<std::uint8_t>>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(CheckpointFile, RoundTripsEveryField) {
  testing::TempDir dir;
  const Contents c = sample_contents();
  write_checkpoint(dir.file("c.h5"), c);
  const CheckpointReader r(file_bytes(dir.file("c.h5")), "c.h5");
  EXPECT_EQ(r.meta().format_version, kFormatVersion);
  EXPECT_EQ(r.meta().model_type, "mf");
  EXPECT_EQ(r.meta().world_size, 2);
  EXPECT_EQ(r.meta().seed, 42u);
  EXPECT_EQ(r.meta().dataset_fingerprint, "abc123");
  EXPECT_EQ(r.meta().config_yaml, c.meta.config_yaml);
  EXPECT_FALSE(r.meta().recforge_version.empty());
  EXPECT_EQ(r.meta().created.size(), 20u);  // 2026-11-23T16:18:03Z
  EXPECT_EQ(r.meta().model_revision, c.meta.model_revision);

  const Position p = r.position();
  EXPECT_EQ(p.epoch, 3);
  EXPECT_EQ(p.step_in_epoch, 7);
  EXPECT_EQ(p.global_step, 37);
  EXPECT_EQ(p.epoch_loss_sum, 1.5);
  EXPECT_EQ(p.epoch_examples, 700);
  EXPECT_EQ(p.best_value, 0.25);
  EXPECT_EQ(p.best_epoch, 2);
  EXPECT_EQ(p.evals_since_best, 1);

  EXPECT_EQ(r.parameter_names(), (std::vector<std::string>{"mf.global_bias", "mf.user_factors"}));
  const ParameterState users = r.parameter("mf.user_factors", Shape{5, 3});
  EXPECT_EQ(users.kind, "embedding");
  RF_EXPECT_TENSOR_NEAR(users.value, c.params[0].value, 0.0);
  ASSERT_EQ(users.optimizer.size(), 1u);
  EXPECT_EQ(users.optimizer[0].name, "momentum");
  RF_EXPECT_TENSOR_NEAR(users.optimizer[0].value, c.params[0].optimizer[0].value, 0.0);
  EXPECT_EQ(r.parameter("mf.global_bias").kind, "dense");
  RF_EXPECT_ERROR(r.parameter("mf.user_factors", Shape{5, 4}), ErrorKind::kConfig,
                  "has shape [5, 3] in the checkpoint but [5, 4] in the model");

  EXPECT_EQ(r.users().string_ids(), c.users.string_ids());
  EXPECT_EQ(r.items().integer_ids(), c.items.integer_ids());
  const Serving s = r.serving();
  RF_EXPECT_TENSOR_NEAR(s.user_embeddings, c.serving.user_embeddings, 0.0);
  RF_EXPECT_TENSOR_NEAR(s.item_embeddings, c.serving.item_embeddings, 0.0);
  EXPECT_EQ(s.item_popularity, c.serving.item_popularity);
  EXPECT_EQ(s.seen_offsets, c.serving.seen_offsets);
  EXPECT_EQ(s.seen_items, c.serving.seen_items);
  EXPECT_EQ(s.item_bias_columns, 1);
  EXPECT_EQ(r.metrics(), c.metrics);
}

TEST(CheckpointFile, ReadsOnlyTheRowsAskedFor) {
  testing::TempDir dir;
  write_checkpoint(dir.file("c.h5"), sample_contents());
  const CheckpointReader r(file_bytes(dir.file("c.h5")), "c.h5");
  const Tensor rows = r.parameter_rows("mf.user_factors", 2, 2);
  RF_EXPECT_TENSOR_NEAR(rows, ramp({5, 3}, 0.0f).slice_rows(2, 4).contiguous(), 0.0);
  RF_EXPECT_ERROR(r.parameter_rows("mf.user_factors", 4, 2), ErrorKind::kInvalidArgument, "rows [4, 6)");
}

TEST(CheckpointFile, RejectsBadParameterNames) {
  testing::TempDir dir;
  Contents c = sample_contents();
  c.params[0].name = "../escape";
  RF_EXPECT_ERROR(write_checkpoint(dir.file("c.h5"), c), ErrorKind::kInvalidArgument, "must be 1-128 characters");
}

// Edits a written checkpoint with the HDF5 C API (as a hostile or future writer would).
void edit(const std::string& path, const std::function<void(hid_t)>& change) {
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  change(f);
  H5Fclose(f);
}

void set_int_attribute(hid_t object, const char* name, std::int64_t value) {
  H5Adelete(object, name);
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attr = H5Acreate2(object, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(attr, H5T_NATIVE_INT64, &value);
  H5Aclose(attr);
  H5Sclose(space);
}

TEST(CheckpointFile, RefusesANewerFormatVersion) {
  testing::TempDir dir;
  write_checkpoint(dir.file("c.h5"), sample_contents());
  edit(dir.file("c.h5"), [](hid_t f) { set_int_attribute(f, "format_version", kFormatVersion + 1); });
  RF_EXPECT_ERROR(CheckpointReader(file_bytes(dir.file("c.h5")), "c.h5"), ErrorKind::kConfig,
                  "c.h5: checkpoint format version 2 was written by a newer recforge; this build reads versions 1 to 1");
}

TEST(CheckpointFile, RefusesFilesThatAreNotCheckpoints) {
  testing::TempDir dir;
  write_checkpoint(dir.file("c.h5"), sample_contents());
  edit(dir.file("c.h5"), [](hid_t f) { H5Adelete(f, "format"); });
  RF_EXPECT_ERROR(CheckpointReader(file_bytes(dir.file("c.h5")), "c.h5"), ErrorKind::kHdf5,
                  "not a recforge checkpoint (format attribute 'missing')");
  const auto text = std::make_shared<std::vector<std::uint8_t>>(std::vector<std::uint8_t>{'h', 'e', 'l', 'l', 'o'});
  RF_EXPECT_ERROR(CheckpointReader(text, "hello.h5"), ErrorKind::kHdf5, "hello.h5: not a readable HDF5 file");
}

TEST(CheckpointFile, RefusesSoftAndExternalLinks) {
  testing::TempDir dir;
  for (const bool external : {false, true}) {
    write_checkpoint(dir.file("c.h5"), sample_contents());
    edit(dir.file("c.h5"), [&](hid_t f) {
      if (external) {
        H5Lcreate_external("/etc/passwd", "/data", f, "/params/stolen", H5P_DEFAULT, H5P_DEFAULT);
      } else {
        H5Lcreate_soft("/params/mf.user_factors", f, "/serving/alias", H5P_DEFAULT, H5P_DEFAULT);
      }
    });
    RF_EXPECT_ERROR(CheckpointReader(file_bytes(dir.file("c.h5")), "c.h5"), ErrorKind::kHdf5,
                    external ? "link 'params/stolen' is a soft or external link" : "link 'serving/alias' is a soft or external link");
  }
}

TEST(CheckpointFile, NeverOpensWhatAnExternalLinkNames) {
  // RELIABILITY X3: a real HDF5 file outside the checkpoint's directory, named
  // by absolute and by ../ paths, is never opened while the reader refuses.
  testing::TempDir dir;
  std::filesystem::create_directories(dir.file("outside"));
  std::filesystem::create_directories(dir.file("ckpt"));
  const std::string sentinel = dir.file("outside/sentinel.h5");
  write_checkpoint(sentinel, sample_contents());
  testing::OpenWatch watch(sentinel);
  const hid_t control = H5Fopen(sentinel.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(control, 0);
  H5Fclose(control);
  ASSERT_GT(watch.events(), 0) << "inotify does not see opens here: the test would prove nothing";
  for (const std::string& target : {sentinel, std::string("../outside/sentinel.h5"), std::string("sentinel.h5")}) {
    const std::string path = dir.file("ckpt/c.h5");
    write_checkpoint(path, sample_contents());
    edit(path, [&](hid_t f) {
      H5Lcreate_external(target.c_str(), "/params/mf.user_factors", f, "/params/stolen", H5P_DEFAULT, H5P_DEFAULT);
    });
    // HDF5 would look for a relative target here too.
    setenv("HDF5_EXT_PREFIX", dir.file("outside").c_str(), 1);
    RF_EXPECT_ERROR(CheckpointReader(file_bytes(path), "c.h5"), ErrorKind::kHdf5,
                    "link 'params/stolen' is a soft or external link");
    unsetenv("HDF5_EXT_PREFIX");
    EXPECT_EQ(watch.events(), 0) << "the reader opened " << target;
  }
}

TEST(CheckpointFile, RefusesASoftLinkLoop) {
  testing::TempDir dir;
  write_checkpoint(dir.file("c.h5"), sample_contents());
  edit(dir.file("c.h5"), [](hid_t f) {
    H5Lcreate_soft("/params/loop_b", f, "/params/loop_a", H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_soft("/params/loop_a", f, "/params/loop_b", H5P_DEFAULT, H5P_DEFAULT);
  });
  RF_EXPECT_ERROR(CheckpointReader(file_bytes(dir.file("c.h5")), "c.h5"), ErrorKind::kHdf5,
                  "is a soft or external link");
}

TEST(CheckpointFile, ABadParameterNameInTheFileIsNamedWithTheFile) {
  // Found by tests/fuzz/checkpoint_fuzzer.cpp: the error lacked the file and
  // printed the raw bytes.
  testing::TempDir dir;
  write_checkpoint(dir.file("c.h5"), sample_contents());
  edit(dir.file("c.h5"), [](hid_t f) {
    H5Lmove(f, "/params/mf.user_factors", f, "/params/mf.\xff\x01", H5P_DEFAULT, H5P_DEFAULT);
  });
  const CheckpointReader r(file_bytes(dir.file("c.h5")), "c.h5");
  const auto names = r.parameter_names();
  ASSERT_NE(std::find(names.begin(), names.end(), "mf.\xff\x01"), names.end());
  RF_EXPECT_ERROR(r.parameter("mf.\xff\x01"), ErrorKind::kInvalidArgument,
                  "c.h5: parameter name 'mf.\\xff\\x01' must be 1-128 characters of [A-Za-z0-9_.-]");
}

TEST(CheckpointFile, RefusesInconsistentServingTables) {
  testing::TempDir dir;
  Contents c = sample_contents();
  c.serving.seen_items[1] = 99;  // no such item
  write_checkpoint(dir.file("c.h5"), c);
  const CheckpointReader r(file_bytes(dir.file("c.h5")), "c.h5");
  RF_EXPECT_ERROR(r.serving(), ErrorKind::kHdf5, "/serving/seen/items holds item 99 outside [0, 4)");
  // Bias columns must leave at least one feature column.
  Contents all_bias = sample_contents();
  all_bias.serving.item_bias_columns = 2;
  write_checkpoint(dir.file("b.h5"), all_bias);
  RF_EXPECT_ERROR(CheckpointReader(file_bytes(dir.file("b.h5")), "b.h5").serving(), ErrorKind::kHdf5,
                  "/serving item_bias_columns 2 is outside [0, 2)");
}

// Reads everything a resume or a server would read.
void read_everything(const std::shared_ptr<std::vector<std::uint8_t>>& bytes) {
  const CheckpointReader r(bytes, "flipped.h5");
  r.position();
  for (const std::string& name : r.parameter_names()) r.parameter(name);
  r.users();
  r.items();
  r.serving();
  r.metrics();
}

TEST(CheckpointFile, CorruptBytesNeverCrashTheReader) {
  // Without the manifest's hash (the repository's first line of defence), a
  // flipped byte must still end in an Error or, if it hit unused padding, in
  // the same contents: never a crash or silently different numbers in the
  // row-chunked, Fletcher32-checked parameters.
  testing::TempDir dir;
  write_checkpoint(dir.file("c.h5"), sample_contents());
  const auto original = file_bytes(dir.file("c.h5"));
  std::mt19937_64 rng(2026);
  int refused = 0, harmless = 0;
  for (int trial = 0; trial < 300; ++trial) {
    auto bytes = std::make_shared<std::vector<std::uint8_t>>(*original);
    const std::size_t at = rng() % bytes->size();
    (*bytes)[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
    try {
      read_everything(bytes);
      const CheckpointReader r(bytes, "flipped.h5");
      EXPECT_EQ(r.parameter("mf.user_factors").value.to_vector<float>(), ramp({5, 3}, 0.0f).to_vector<float>())
          << "flip at byte " << at << " changed the parameters silently";
      ++harmless;
    } catch (const Error&) {
      ++refused;
    }
  }
  EXPECT_EQ(refused + harmless, 300);
  EXPECT_GT(refused, 0);
  int truncations = 0, truncations_refused = 0;
  for (std::size_t length : {std::size_t{0}, std::size_t{100}, original->size() / 2, original->size() - 1}) {
    auto bytes = std::make_shared<std::vector<std::uint8_t>>(original->begin(), original->begin() + static_cast<long>(length));
    ++truncations;
    EXPECT_THROW(read_everything(bytes), Error) << "truncated to " << length;
    try {
      read_everything(bytes);
    } catch (const Error&) {
      ++truncations_refused;
    }
  }
  // For tests/reliability/run.py (RELIABILITY C1).
  std::printf("RELIABILITY C1 trials=%d passed=%d\n", 300 + truncations, refused + harmless + truncations_refused);
}

}  // namespace
}  // namespace recforge::checkpoint
