// A directory of checkpoint versions, published atomically and verified on load.
//
//   <dir>/step-0000001200/checkpoint.h5     one version (one HDF5 file)
//   <dir>/step-0000001200/MANIFEST.json     format, step, world size, config hash,
//                                           SHA-256 and size of every file
//   <dir>/LATEST                            "step-0000001200\n" (a hint)
//   <dir>/.tmp-step-...-<pid>/              a version being written (ignored)
//   <dir>/.trash-step-...-<pid>/            a version being deleted (ignored)
//
// Publishing: files written into a temporary directory, fsynced, MANIFEST.json
// written last, the directory renamed to its final name (the commit point), the
// parent fsynced, then LATEST replaced the same way. A crash at any moment
// leaves every committed version intact; half-written ones keep a .tmp name.
// Loading takes LATEST if it verifies, else the newest version that does: a
// version verifies when its manifest parses, lists the format we read, and
// every file's size and SHA-256 match the bytes read, before HDF5 parses them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "recforge/log/metrics_log.hpp"

namespace recforge::checkpoint {

inline constexpr const char* kCheckpointFile = "checkpoint.h5";
inline constexpr const char* kManifestFile = "MANIFEST.json";
inline constexpr const char* kLatestFile = "LATEST";

struct Manifest {
  std::int64_t format_version = 0;
  std::int64_t step = 0;
  std::int64_t epoch = 0;
  std::int64_t world_size = 0;
  std::string model_type;
  std::string config_sha256;
  std::string dataset_fingerprint;
  std::string created;
  struct File {
    std::string name;
    std::int64_t bytes = 0;
    std::string sha256;
  };
  std::vector<File> files;
  MetricValues metrics;
  // The global step the metrics were computed at: this version's own when it
  // equals `step`, else the latest evaluation's, of an earlier state (-1:
  // no metrics, or a version written before this was recorded).
  std::int64_t metrics_step = -1;
};

struct Version {
  std::string name;  // step-0000001200
  std::int64_t step = 0;
  std::string path;  // <dir>/<name>
};

// A verified version: its manifest and the checkpoint's bytes (hashed).
struct LoadedVersion {
  Version version;
  Manifest manifest;
  std::shared_ptr<const std::vector<std::uint8_t>> checkpoint_bytes;
};

struct Retention {
  std::int64_t keep_last = 3;      // newest versions kept (>= 1)
  std::int64_t keep_every = 0;     // also keep versions whose step is a multiple (0: none)
  std::string best_metric;         // also keep the best version by this metric (empty: none)
  bool maximize = true;
};

// A run directory (<output_dir>/<name>) keeps its checkpoints in checkpoints/:
// commands that take a checkpoint directory accept either and resolve it here.
// A run directory is one with checkpoints/, config.yaml, or the .lock every
// run takes first, before preparing its data (its checkpoints/ may not exist
// yet: a server started beside the trainer watches the right place), unless
// versions lie beside that .lock.
std::string checkpoint_dir_of(const std::string& dir_or_run_dir);

// The version name of a step, and the step of a valid name.
std::string version_name(std::int64_t step);
std::optional<std::int64_t> parse_version_name(const std::string& name);

// The largest checkpoint file the readers (resume, serve, export, evaluate)
// load; the writer refuses to publish a larger one, which no reader could load.
inline constexpr std::int64_t kMaxCheckpointBytes = std::int64_t{1} << 36;  // 64 GiB

class CheckpointRepository {
 public:
  // `max_bytes`: the largest file publish() accepts (smaller only in tests).
  explicit CheckpointRepository(std::string dir, std::int64_t max_bytes = kMaxCheckpointBytes);
  const std::string& dir() const { return dir_; }

  // Publishes version `step`: `write_checkpoint(path)` writes the HDF5 file at
  // `path` (inside the temporary directory); then hashing, manifest, fsyncs,
  // the rename and LATEST. `manifest`'s files are filled here. Replaces an
  // existing version of the same step. `rank` selects RF_FAULT phases.
  Version publish(std::int64_t step, const std::function<void(const std::string& path)>& write_checkpoint,
                  Manifest manifest, int rank = 0);

  // Committed versions, oldest first: directories (not symlinks) with a valid
  // name and a manifest file. Nothing is verified yet.
  std::vector<Version> list() const;
  // The version called `name` here (a kData error for a malformed name).
  Version version(const std::string& name) const;
  // The version LATEST names, if the file exists and names a listed version.
  std::optional<Version> latest_pointer() const;

  // Reads and verifies one version; throws an Error naming the file and the
  // failed check (missing, unparsable manifest, size, hash, format).
  LoadedVersion load(const Version& version, std::int64_t max_bytes = kMaxCheckpointBytes) const;
  // LATEST if it verifies, else the newest version that does; each version
  // refused on the way is described in `rejected`. nullopt when none verifies.
  std::optional<LoadedVersion> load_latest(std::vector<std::string>* rejected = nullptr,
                                           std::int64_t max_bytes = kMaxCheckpointBytes) const;
  // load_latest for readers that need a version (export, evaluate): kNotFound
  // when the directory does not exist or no version verifies (listing each
  // refusal); a refused newer version is logged as a warning.
  LoadedVersion require_latest(std::int64_t max_bytes = kMaxCheckpointBytes) const;

  // Deletes versions the policy does not keep (never the newest); each is
  // renamed to a .trash name first, so a crash never leaves half a version
  // under a committed name.
  std::vector<std::string> apply_retention(const Retention& policy, int rank = 0);
  // Removes leftover .tmp-/.trash- directories of crashed writers.
  void remove_stale_temporaries();

 private:
  std::string dir_;
  std::int64_t max_bytes_;
};

Manifest parse_manifest(const std::string& text, const std::string& label);
std::string manifest_json(const Manifest& m);

}  // namespace recforge::checkpoint
