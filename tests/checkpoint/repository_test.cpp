// The checkpoint directory: publish, verified loads that name the failed check,
// LATEST as a hint only, leftovers of crashed writers, symlinks, retention.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "recforge/checkpoint/checkpoint_file.hpp"
#include "recforge/checkpoint/repository.hpp"
#include "testing/checkpoint_testing.hpp"
#include "testing/error_testing.hpp"
#include "testing/open_watch.hpp"
#include "testing/temp_dir.hpp"

namespace recforge::checkpoint {
namespace {
namespace fs = std::filesystem;

Version publish(CheckpointRepository& repo, std::int64_t step, double metric = 0) {
  return testing::publish_small_checkpoint(repo, step, metric);
}

float first_value(const LoadedVersion& v) {
  return CheckpointReader(v.checkpoint_bytes, v.version.name).parameter("w").value.data_as<float>()[0];
}

std::vector<std::int64_t> steps(const CheckpointRepository& repo) {
  std::vector<std::int64_t> out;
  for (const Version& v : repo.list()) out.push_back(v.step);
  return out;
}

void overwrite(const std::string& path, std::int64_t offset, char byte) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(offset);
  f.put(byte);
}

TEST(Repository, PublishesAndLoadsTheLatestVersion) {
  testing::TempDir dir;
  CheckpointRepository repo(dir.file("ckpt"));
  EXPECT_FALSE(repo.load_latest().has_value());
  publish(repo, 10);
  const Version v = publish(repo, 20);
  EXPECT_EQ(v.name, "step-0000000020");
  EXPECT_EQ(steps(repo), (std::vector<std::int64_t>{10, 20}));
  EXPECT_EQ(repo.latest_pointer()->name, "step-0000000020");
  const auto latest = repo.load_latest();
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->version.step, 20);
  EXPECT_EQ(latest->manifest.files.front().name, kCheckpointFile);
  EXPECT_EQ(first_value(*latest), 20.0f);
  // Nothing temporary is left behind.
  for (const auto& e : fs::directory_iterator(dir.file("ckpt"))) EXPECT_NE(e.path().filename().string()[0], '.');
}

// A file larger than the readers load is refused before it is published:
// published, every reader would refuse it and retention would have deleted
// the versions that still load.
TEST(Repository, AFileNoReaderWouldLoadIsNotPublished) {
  testing::TempDir dir;
  CheckpointRepository big(dir.file("ckpt"));
  publish(big, 10);
  const std::int64_t size = big.load_latest()->manifest.files.front().bytes;
  CheckpointRepository limited(dir.file("ckpt"), size - 1);
  RF_EXPECT_ERROR(publish(limited, 20), ErrorKind::kConfig,
                  "checkpoint step 20 is " + std::to_string(size) + " bytes, above the " + std::to_string(size - 1) +
                      " a reader loads; not published");
  EXPECT_EQ(steps(limited), (std::vector<std::int64_t>{10}));
  EXPECT_EQ(limited.load_latest()->version.step, 10);
  for (const auto& e : fs::directory_iterator(dir.file("ckpt"))) EXPECT_NE(e.path().filename().string()[0], '.');
}

TEST(Repository, ARunDirectoryMeansItsCheckpointsFolder) {
  testing::TempDir dir;
  const fs::path run = dir.path() / "run", checkpoints = dir.path() / "run" / "checkpoints";
  fs::create_directories(run);
  EXPECT_EQ(checkpoint_dir_of(run.string()), run.string());  // nothing says it is a run directory
  std::ofstream((run / "config.yaml").string()) << "run: {}\n";
  EXPECT_EQ(checkpoint_dir_of(run.string()), checkpoints.string());  // a run that has not saved yet
  fs::remove(run / "config.yaml");
  std::ofstream((run / ".lock").string()) << "pid 1 on node7 since 2026-12-07T13:40:00Z\n";
  EXPECT_EQ(checkpoint_dir_of(run.string()), checkpoints.string());  // a run still preparing its data
  // A checkpoint.dir that an older recforge locked with .lock: its versions say what it is.
  fs::create_directories(run / "step-0000000007");
  EXPECT_EQ(checkpoint_dir_of(run.string()), run.string());
  fs::remove(run / "step-0000000007");
  fs::remove(run / ".lock");
  fs::create_directories(checkpoints);
  EXPECT_EQ(checkpoint_dir_of(run.string()), checkpoints.string());
  EXPECT_EQ(checkpoint_dir_of(checkpoints.string()), checkpoints.string());  // a checkpoint directory itself
}

TEST(Repository, NamesTheCheckThatFailed) {
  testing::TempDir dir;
  CheckpointRepository repo(dir.file("ckpt"));
  const Version v = publish(repo, 7);
  const std::string h5 = v.path + "/" + kCheckpointFile;
  const auto size = static_cast<std::int64_t>(fs::file_size(h5));
  overwrite(h5, size / 2, 'X');
  RF_EXPECT_ERROR(repo.load(v), ErrorKind::kData, "checkpoint.h5: SHA-256");
  fs::resize_file(h5, static_cast<std::uintmax_t>(size - 10));
  RF_EXPECT_ERROR(repo.load(v), ErrorKind::kData, " bytes, the manifest says ");
  fs::remove(h5);
  RF_EXPECT_ERROR(repo.load(v), ErrorKind::kIo, "cannot open");
  std::ofstream(v.path + "/" + kManifestFile) << "{not json";
  RF_EXPECT_ERROR(repo.load(v), ErrorKind::kData, "MANIFEST.json: unreadable manifest");
}

// RELIABILITY C1 through the verified load: 300 single-byte flips at random
// offsets of the checkpoint file, 50 truncations at random lengths (of either
// file) and each file deleted in turn. Every one is refused with the version,
// the file and the check named, and the previous version is what loads.
TEST(Repository, RandomCorruptionIsRefusedNamingTheFileAndTheCheck) {
  testing::TempDir dir;
  CheckpointRepository repo(dir.file("ckpt"));
  const Version good = publish(repo, 1);
  const float good_value = first_value(repo.load(good));
  const Version pristine = publish(repo, 2);
  const std::string copy = dir.file("pristine");
  fs::copy(pristine.path, copy);
  std::mt19937_64 rng(20261205);
  int refused = 0, trials = 0;
  const auto corrupt_and_load = [&](const std::function<void(const std::string&)>& damage, const std::string& file,
                                    const std::string& check) {
    fs::remove_all(pristine.path);
    fs::copy(copy, pristine.path);
    damage(pristine.path + "/" + file);
    std::vector<std::string> rejected;
    const auto loaded = repo.load_latest(&rejected);
    ++trials;
    ASSERT_TRUE(loaded.has_value());
    EXPECT_EQ(loaded->version.step, 1);
    EXPECT_EQ(first_value(*loaded), good_value);
    ASSERT_EQ(rejected.size(), 1u);
    const bool named = rejected[0].find("step-0000000002/" + file) != std::string::npos &&
                       rejected[0].find(check) != std::string::npos;
    EXPECT_TRUE(named) << rejected[0] << " (want '" << file << "' and '" << check << "')";
    refused += named;
  };
  const std::string h5 = kCheckpointFile;
  const auto h5_size = static_cast<std::int64_t>(fs::file_size(copy + "/" + h5));
  for (int k = 0; k < 300; ++k) {
    const std::int64_t offset = std::uniform_int_distribution<std::int64_t>(0, h5_size - 1)(rng);
    const auto mask = static_cast<char>(std::uniform_int_distribution<int>(1, 255)(rng));
    corrupt_and_load([&](const std::string& path) {
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(offset);
      const char byte = static_cast<char>(f.get());
      f.seekp(offset);
      f.put(static_cast<char>(byte ^ mask));
    }, h5, "SHA-256");
  }
  for (int k = 0; k < 50; ++k) {
    const bool manifest = k % 2 == 1;
    const std::string file = manifest ? kManifestFile : kCheckpointFile;
    const auto size = static_cast<std::int64_t>(fs::file_size(copy + "/" + file));
    const std::int64_t length = std::uniform_int_distribution<std::int64_t>(0, size - 1)(rng);
    corrupt_and_load([&](const std::string& path) { fs::resize_file(path, static_cast<std::uintmax_t>(length)); },
                     file, manifest ? "manifest" : " bytes, the manifest says ");
  }
  corrupt_and_load([](const std::string& path) { fs::remove(path); }, kCheckpointFile, "cannot open");
  corrupt_and_load([](const std::string& path) { fs::remove(path); }, kManifestFile, "cannot open");
  EXPECT_EQ(refused, trials);
  EXPECT_EQ(trials, 352);
  std::printf("RELIABILITY C1 trials=%d passed=%d\n", trials, refused);  // read by tests/reliability/run.py
}

TEST(Repository, RefusesAManifestFromANewerRecforge) {
  testing::TempDir dir;
  CheckpointRepository repo(dir.file("ckpt"));
  const Version v = publish(repo, 3);
  std::ifstream in(v.path + "/" + kManifestFile);
  Manifest m = parse_manifest(std::string(std::istreambuf_iterator<char>(in), {}), "m");
  in.close();
  m.format_version = kFormatVersion + 1;
  std::ofstream(v.path + "/" + kManifestFile) << manifest_json(m);
  RF_EXPECT_ERROR(repo.load(v), ErrorKind::kConfig, "format version 2 was written by a newer recforge");
}

TEST(Repository, FallsBackPastACorruptLatestVersion) {
  testing::TempDir dir;
  CheckpointRepository repo(dir.file("ckpt"));
  publish(repo, 1);
  const Version bad = publish(repo, 2);
  overwrite(bad.path + "/" + kCheckpointFile, 100, '\x7f');
  std::vector<std::string> rejected;
  const auto loaded = repo.load_latest(&rejected);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->version.step, 1);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_NE(rejected[0].find("step-0000000002/checkpoint.h5: SHA-256"), std::string::npos) << rejected[0];
}

TEST(Repository, LatestIsOnlyAHint) {
  testing::TempDir dir;
  CheckpointRepository repo(dir.file("ckpt"));
  publish(repo, 1);
  publish(repo, 2);
  // A crash between the version's rename and LATEST's: LATEST names the older one.
  std::ofstream(dir.file("ckpt/LATEST")) << "step-0000000001\n";
  EXPECT_EQ(repo.load_latest()->version.step, 1);  // the pointer, when it verifies, wins
  std::ofstream(dir.file("ckpt/LATEST")) << "garbage";
  EXPECT_EQ(repo.load_latest()->version.step, 2);
  fs::remove(dir.file("ckpt/LATEST"));
  EXPECT_EQ(repo.load_latest()->version.step, 2);
}

TEST(Repository, IgnoresAndCleansUpWhatCrashedWritersLeft) {
  testing::TempDir dir;
  CheckpointRepository repo(dir.file("ckpt"));
  publish(repo, 5);
  fs::create_directories(dir.file("ckpt/.tmp-step-0000000006-123"));
  std::ofstream(dir.file("ckpt/.tmp-step-0000000006-123/checkpoint.h5")) << "half";
  fs::create_directories(dir.file("ckpt/.trash-step-0000000004-9"));
  // Writers rename complete versions into place: a version without its
  // manifest is damaged (or still being copied in by hand), listed and refused.
  fs::create_directories(dir.file("ckpt/step-0000000007"));
  EXPECT_EQ(steps(repo), (std::vector<std::int64_t>{5, 7}));
  repo.remove_stale_temporaries();
  EXPECT_FALSE(fs::exists(dir.file("ckpt/.tmp-step-0000000006-123")));
  EXPECT_FALSE(fs::exists(dir.file("ckpt/.trash-step-0000000004-9")));
  EXPECT_EQ(repo.load_latest()->version.step, 5);
  RF_EXPECT_ERROR(repo.load(repo.list().back()), ErrorKind::kIo, "step-0000000007/MANIFEST.json");
  EXPECT_TRUE(fs::exists(dir.file("ckpt/step-0000000007"))) << "a damaged version is not a writer's temporary";
}

TEST(Repository, NeverFollowsASymlinkedVersion) {
  // RELIABILITY X4: a real version outside the repository, reached by a
  // symlinked version directory, symlinked files inside a version, and a
  // LATEST naming it, is never opened (the kernel's inotify as witness).
  testing::TempDir dir, outside;
  CheckpointRepository elsewhere(outside.file("x"));
  const Version foreign = publish(elsewhere, 99);
  CheckpointRepository repo(dir.file("ckpt"));
  const Version good = publish(repo, 1);
  testing::OpenWatch watch(foreign.path);
  std::ifstream(fs::path(foreign.path) / "MANIFEST.json").get();
  ASSERT_GT(watch.events(), 0) << "inotify does not see opens here: the test would prove nothing";

  fs::create_directory_symlink(foreign.path, dir.file("ckpt/step-0000000099"));
  fs::create_directory(dir.file("ckpt/step-0000000098"));
  for (const char* name : {"MANIFEST.json", "checkpoint.h5"}) {
    fs::create_symlink(fs::path(foreign.path) / name, fs::path(dir.file("ckpt/step-0000000098")) / name);
  }
  std::ofstream(dir.file("ckpt/LATEST")) << fs::relative(foreign.path, dir.file("ckpt")).string() << "\n";
  EXPECT_EQ(steps(repo), (std::vector<std::int64_t>{1, 98}));  // 98 is a real directory: listed, then refused
  const auto loaded = repo.load_latest();
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->version.step, 1);
  EXPECT_EQ(first_value(*loaded), first_value(repo.load(good)));
  EXPECT_EQ(watch.events(), 0) << "the repository opened something outside its root";
}

TEST(Repository, VersionNamesAreStrict) {
  EXPECT_EQ(parse_version_name("step-0000000042"), 42);
  for (const char* bad : {"step-42", "step-000000004x", "../step-0000000042", "step-00000000420", "Step-0000000042", ""}) {
    EXPECT_FALSE(parse_version_name(bad).has_value()) << bad;
  }
}

TEST(Repository, RetentionKeepsExactlyThePolicysVersions) {
  testing::TempDir dir;
  CheckpointRepository repo(dir.file("ckpt"));
  const Retention policy{.keep_last = 3, .keep_every = 50, .best_metric = "recall@20", .maximize = true};
  for (std::int64_t step = 1; step <= 100; ++step) {
    publish(repo, step, step == 17 ? 0.9 : 0.1);  // the best evaluation at step 17
    repo.apply_retention(policy);
  }
  EXPECT_EQ(steps(repo), (std::vector<std::int64_t>{17, 50, 98, 99, 100}));
  for (const auto& e : fs::directory_iterator(dir.file("ckpt"))) {
    const std::string name = e.path().filename().string();
    EXPECT_TRUE(name == "LATEST" || parse_version_name(name)) << "left over: " << name;
  }
}

TEST(Repository, RepublishingAStepReplacesIt) {
  testing::TempDir dir;
  CheckpointRepository repo(dir.file("ckpt"));
  publish(repo, 4);
  publish(repo, 4);
  EXPECT_EQ(steps(repo), (std::vector<std::int64_t>{4}));
  EXPECT_EQ(first_value(*repo.load_latest()), 4.0f);
}

}  // namespace
}  // namespace recforge::checkpoint
