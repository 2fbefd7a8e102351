// Hot reload's refusals: a version that fails for a reason of its own (its
// bytes do not match the manifest) stays refused until published anew; one
// that fails for the machine's (an I/O error) is tried again, so a passing
// trouble does not leave the server on an old model for good.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "recforge/serve/model_watcher.hpp"
#include "testing/temp_dir.hpp"

namespace recforge::serve {
namespace {

namespace fs = std::filesystem;

// A copy of the golden format-1 version (a servable ALS checkpoint).
std::string copy_golden_version(const testing::TempDir& dir) {
  const fs::path to = dir.path() / "checkpoints";
  fs::create_directories(to);
  fs::copy(fs::path(RECFORGE_GOLDEN_DIR) / "v1", to, fs::copy_options::recursive);
  return to.string();
}

// A checkpoint file that cannot be read for a moment (EMFILE, an NFS hiccup;
// here: moved away and back, the manifest untouched) is an I/O error, which
// may pass: the same version loads at a later poll.
TEST(ModelWatcher, AFailureThatMayPassIsTriedAgain) {
  testing::TempDir dir;
  const fs::path version = fs::path(copy_golden_version(dir)) / "step-0000000002";
  ModelWatcher watcher((dir.path() / "checkpoints").string(), {}, std::chrono::milliseconds(1000),
                       std::chrono::milliseconds(0));
  fs::rename(version / "checkpoint.h5", dir.path() / "away.h5");
  EXPECT_FALSE(watcher.poll_once());
  EXPECT_EQ(watcher.failures(), 1);
  EXPECT_EQ(watcher.current(), nullptr);
  fs::rename(dir.path() / "away.h5", version / "checkpoint.h5");
  EXPECT_TRUE(watcher.poll_once());
  ASSERT_NE(watcher.current(), nullptr);
  EXPECT_EQ(watcher.current()->step(), 2);
}

// A server started beside its training job (--model-dir runs/<name>) may look
// before the job has made the directory a run directory: it follows it to
// its checkpoints/ once it is one.
TEST(ModelWatcher, ARunDirectoryMadeAfterTheStartIsFollowed) {
  testing::TempDir dir;
  const fs::path run = dir.path() / "late";
  ModelWatcher watcher(run.string(), {}, std::chrono::milliseconds(1000), std::chrono::milliseconds(0));
  EXPECT_FALSE(watcher.poll_once());
  EXPECT_EQ(watcher.dir(), run.string());
  fs::create_directories(run);
  std::ofstream(run / ".lock") << "pid 1";  // the first file a training job writes
  EXPECT_FALSE(watcher.poll_once());
  EXPECT_EQ(watcher.dir(), (run / "checkpoints").string());
  fs::create_directories(run / "checkpoints");
  fs::copy(fs::path(RECFORGE_GOLDEN_DIR) / "v1", run / "checkpoints", fs::copy_options::recursive);
  ASSERT_TRUE(watcher.poll_once());
  EXPECT_EQ(watcher.current()->step(), 2);
}

TEST(ModelWatcher, AFailureOfTheVersionIsNotTriedAgainUntilRepublished) {
  testing::TempDir dir;
  const fs::path version = fs::path(copy_golden_version(dir)) / "step-0000000002";
  const auto flip_a_byte = [&] {
    std::fstream file(version / "checkpoint.h5", std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(100);
    const char byte = static_cast<char>(file.get());
    file.seekp(100);
    file.put(static_cast<char>(byte ^ 0x5a));
  };
  flip_a_byte();  // the SHA-256 in the manifest no longer matches
  ModelWatcher watcher(dir.path().string() + "/checkpoints", {}, std::chrono::milliseconds(1000),
                       std::chrono::milliseconds(0));
  EXPECT_FALSE(watcher.poll_once());
  flip_a_byte();  // mended, but not published anew: still refused
  EXPECT_FALSE(watcher.poll_once());
  EXPECT_EQ(watcher.failures(), 1);  // not loaded again
  EXPECT_EQ(watcher.current(), nullptr);
  // Published anew (a new manifest time): tried, and loaded.
  const fs::path manifest = version / "MANIFEST.json";
  fs::last_write_time(manifest, fs::last_write_time(manifest) + std::chrono::seconds(5));
  EXPECT_TRUE(watcher.poll_once());
  ASSERT_NE(watcher.current(), nullptr);
  EXPECT_EQ(watcher.current()->step(), 2);
}

}  // namespace
}  // namespace recforge::serve
