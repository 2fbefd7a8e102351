// RELIABILITY X1: a checkpoint whose bytes do not match the hash in its
// manifest is refused before the HDF5 parser sees it. This executable defines
// H5Fopen itself (exported, so libhdf5_hl's H5LTopen_file_image calls it too),
// counts the calls and forwards them to libhdf5's.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <hdf5.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "recforge/checkpoint/checkpoint_file.hpp"
#include "recforge/checkpoint/repository.hpp"
#include "recforge/serve/model_watcher.hpp"
#include "testing/checkpoint_testing.hpp"
#include "testing/error_testing.hpp"
#include "testing/temp_dir.hpp"

namespace {
std::atomic<int> g_h5fopen_calls{0};
}  // namespace

extern "C" hid_t H5Fopen(const char* name, unsigned flags, hid_t access) {
  using Open = hid_t (*)(const char*, unsigned, hid_t);
  static const auto real = reinterpret_cast<Open>(dlsym(RTLD_NEXT, "H5Fopen"));
  ++g_h5fopen_calls;
  return real(name, flags, access);
}

namespace recforge::checkpoint {
namespace {
namespace fs = std::filesystem;

Version publish(CheckpointRepository& repo, std::int64_t step, double metric = 0) {
  return testing::publish_small_checkpoint(repo, step, metric);
}

// Flips one byte in the middle of the HDF5 file: still the right size.
void corrupt(const Version& v) {
  const std::string h5 = v.path + "/" + kCheckpointFile;
  std::fstream f(h5, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(fs::file_size(h5) / 2));
  f.put('\x5a');
}

TEST(HashBeforeParse, TheWrapperSeesTheParserOpenAGoodVersion) {
  testing::TempDir dir;
  CheckpointRepository repo(dir.file("ckpt"));
  const LoadedVersion loaded = repo.load(publish(repo, 1));
  const int before = g_h5fopen_calls.load();
  CheckpointReader reader(loaded.checkpoint_bytes, loaded.version.name);
  EXPECT_GT(g_h5fopen_calls.load(), before) << "H5Fopen is not intercepted: the other tests would prove nothing";
}

TEST(HashBeforeParse, ACorruptVersionNeverReachesH5Fopen) {
  testing::TempDir dir;
  CheckpointRepository repo(dir.file("ckpt"));
  const Version v = publish(repo, 1);
  corrupt(v);
  const int before = g_h5fopen_calls.load();
  RF_EXPECT_ERROR(repo.load(v), ErrorKind::kData, "checkpoint.h5: SHA-256");
  fs::resize_file(v.path + "/" + kCheckpointFile, 100);
  RF_EXPECT_ERROR(repo.load(v), ErrorKind::kData, " bytes, the manifest says ");
  EXPECT_EQ(g_h5fopen_calls.load(), before);
}

TEST(HashBeforeParse, TheServerRefusesACorruptVersionWithoutOpeningIt) {
  testing::TempDir dir;
  CheckpointRepository repo(dir.file("ckpt"));
  for (std::int64_t step = 1; step <= 20; ++step) corrupt(publish(repo, step));
  serve::ModelWatcher watcher(dir.file("ckpt"), {}, std::chrono::milliseconds(1000));
  const int before = g_h5fopen_calls.load();
  EXPECT_FALSE(watcher.poll_once());
  EXPECT_FALSE(watcher.current());
  EXPECT_EQ(watcher.failures(), 20);
  EXPECT_EQ(g_h5fopen_calls.load(), before) << "H5Fopen was called on a version whose hash did not match";
}

}  // namespace
}  // namespace recforge::checkpoint
