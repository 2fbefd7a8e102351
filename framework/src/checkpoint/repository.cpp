// Checkpoint versions on disk: atomic publish, verified load, retention (see
// repository.hpp for the layout and the protocol).
#include "recforge/checkpoint/repository.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "recforge/checkpoint/checkpoint_file.hpp"
#include "recforge/core/error.hpp"
#include "recforge/core/fault.hpp"
#include "recforge/core/sha256.hpp"
#include "recforge/io/durable_file.hpp"
#include "recforge/log/logging.hpp"

namespace recforge::checkpoint {
namespace fs = std::filesystem;

namespace {

constexpr const char* kManifestFormat = "recforge-checkpoint-manifest";
constexpr std::size_t kMaxManifestBytes = 1 << 20;

bool is_real_directory(const fs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);  // lstat: a symlink is not a version
}

std::string read_small_file(const fs::path& p, std::size_t max_bytes) {
  const auto bytes = io::read_file_bytes(p.string(), static_cast<std::int64_t>(max_bytes));
  return {bytes.begin(), bytes.end()};
}

}  // namespace

std::string checkpoint_dir_of(const std::string& dir_or_run_dir) {
  const fs::path dir(dir_or_run_dir), nested = dir / "checkpoints";
  // .lock: the first file a run writes, before its data is prepared; but not
  // beside versions (a checkpoint.dir locked by a recforge before .checkpoints.lock).
  const auto holds_versions = [&] {
    std::error_code ec;
    if (fs::exists(dir / kLatestFile, ec)) return true;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (parse_version_name(it->path().filename().string()) && is_real_directory(it->path())) return true;
    }
    return false;
  };
  const bool run_dir = fs::is_directory(nested) || fs::is_regular_file(dir / "config.yaml") ||
                       (fs::is_regular_file(dir / ".lock") && !holds_versions());
  return run_dir ? nested.string() : dir_or_run_dir;
}

std::string version_name(std::int64_t step) {
  RF_CHECK(step >= 0 && step <= 9999999999LL, "checkpoint step ", step, " outside [0, 9999999999]");
  return fmt::format("step-{:010d}", step);
}

std::optional<std::int64_t> parse_version_name(const std::string& name) {
  if (name.size() != 15 || name.compare(0, 5, "step-") != 0) return std::nullopt;
  std::int64_t step = 0;
  for (std::size_t i = 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    step = step * 10 + (name[i] - '0');
  }
  return step;
}

std::string manifest_json(const Manifest& m) {
  nlohmann::ordered_json j;
  j["format"] = kManifestFormat;
  j["format_version"] = m.format_version;
  j["step"] = m.step;
  j["epoch"] = m.epoch;
  j["world_size"] = m.world_size;
  j["model_type"] = m.model_type;
  j["config_sha256"] = m.config_sha256;
  j["dataset_fingerprint"] = m.dataset_fingerprint;
  j["created"] = m.created;
  nlohmann::ordered_json files = nlohmann::ordered_json::object();
  for (const Manifest::File& f : m.files) files[f.name] = {{"bytes", f.bytes}, {"sha256", f.sha256}};
  j["files"] = files;
  nlohmann::ordered_json metrics = nlohmann::ordered_json::object();
  // JSON has no NaN/Inf: a non-finite metric is left out (the HDF5 file keeps it).
  for (const auto& [name, value] : m.metrics) {
    if (std::isfinite(value)) metrics[name] = value;
  }
  j["metrics"] = metrics;
  if (m.metrics_step >= 0) j["metrics_step"] = m.metrics_step;
  return j.dump(2) + "\n";
}

Manifest parse_manifest(const std::string& text, const std::string& label) {
  Manifest m;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    RF_CHECK_KIND(ErrorKind::kData, j.is_object() && j.value("format", "") == kManifestFormat, label,
                  ": not a recforge checkpoint manifest");
    m.format_version = j.at("format_version").get<std::int64_t>();
    m.step = j.at("step").get<std::int64_t>();
    m.epoch = j.at("epoch").get<std::int64_t>();
    m.world_size = j.at("world_size").get<std::int64_t>();
    m.model_type = j.at("model_type").get<std::string>();
    m.config_sha256 = j.at("config_sha256").get<std::string>();
    m.dataset_fingerprint = j.at("dataset_fingerprint").get<std::string>();
    m.created = j.at("created").get<std::string>();
    for (const auto& [name, f] : j.at("files").items()) {
      RF_CHECK_KIND(ErrorKind::kData, name == kCheckpointFile, label, ": unexpected file '", name, "' in the manifest");
      m.files.push_back({name, f.at("bytes").get<std::int64_t>(), f.at("sha256").get<std::string>()});
    }
    for (const auto& [name, value] : j.at("metrics").items()) m.metrics.emplace_back(name, value.get<double>());
    if (j.contains("metrics_step")) m.metrics_step = j.at("metrics_step").get<std::int64_t>();
  } catch (const nlohmann::json::exception& e) {
    RF_THROW(ErrorKind::kData, label, ": unreadable manifest (", e.what(), ")");
  }
  RF_CHECK_KIND(ErrorKind::kData, m.files.size() == 1, label, ": the manifest must list ", kCheckpointFile);
  return m;
}

CheckpointRepository::CheckpointRepository(std::string dir, std::int64_t max_bytes)
    : dir_(std::move(dir)), max_bytes_(max_bytes) {}

Version CheckpointRepository::publish(std::int64_t step, const std::function<void(const std::string&)>& write_checkpoint,
                                      Manifest manifest, int rank) {
  fs::create_directories(dir_);
  const std::string name = version_name(step);
  const fs::path temp = fs::path(dir_) / fmt::format(".tmp-{}-{}", name, ::getpid());
  const fs::path final_path = fs::path(dir_) / name;
  fs::remove_all(temp);
  fs::create_directory(temp);
  try {
    const std::string h5 = (temp / kCheckpointFile).string();
    write_checkpoint(h5);
    fault::at_phase(rank, "checkpoint_after_data", step);
    const auto bytes = static_cast<std::int64_t>(fs::file_size(h5));
    // Published, it would be refused by every reader, and retention would
    // have deleted the older versions that still load.
    // A config problem (exit 2, final for restart.sh): every save of this model would fail alike.
    RF_CHECK_KIND(ErrorKind::kConfig, bytes <= max_bytes_, "checkpoint step ", step, " is ", bytes,
                  " bytes, above the ", max_bytes_, " a reader loads; not published (the model and optimizer state "
                  "are too large for one checkpoint file: fewer factors or a smaller embedding table, or an "
                  "optimizer with fewer slots)");
    io::fsync_path(h5);
    const Sha256Digest digest = sha256_file(h5);
    manifest.files = {{kCheckpointFile, bytes, Sha256::hex(digest)}};
    manifest.step = step;
    io::write_file_atomically((temp / kManifestFile).string(), manifest_json(manifest));
    io::fsync_path(temp.string());
    fault::at_phase(rank, "checkpoint_before_rename", step);
    // A version of the same step (a re-run of the step after a resume) is
    // moved aside first: rename() cannot replace a non-empty directory.
    if (fs::exists(final_path)) {
      const fs::path trash = fs::path(dir_) / fmt::format(".trash-{}-{}", name, ::getpid());
      io::rename_durably(final_path.string(), trash.string());
      fs::remove_all(trash);
    }
    io::rename_path(temp.string(), final_path.string());  // the commit point, once durable
    fault::at_phase(rank, "checkpoint_before_dir_fsync", step);
    io::fsync_path(dir_);
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(temp, ignored);
    throw;
  }
  fault::at_phase(rank, "checkpoint_after_rename", step);
  io::write_file_atomically((fs::path(dir_) / kLatestFile).string(), name + "\n");
  return {name, step, final_path.string()};
}

std::vector<Version> CheckpointRepository::list() const {
  std::vector<Version> out;
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    const auto step = parse_version_name(name);
    if (!step) continue;
    if (!is_real_directory(entry.path())) {
      log::warn("checkpoints: ignoring {} (not a directory; symlinked versions are never read)", entry.path().string());
      continue;
    }
    // A version without its manifest is damaged, not absent: listed, so that
    // loading it says so (writers rename complete versions into place).
    out.push_back({name, *step, entry.path().string()});
  }
  std::sort(out.begin(), out.end(), [](const Version& a, const Version& b) { return a.step < b.step; });
  return out;
}

std::optional<Version> CheckpointRepository::latest_pointer() const {
  const fs::path p = fs::path(dir_) / kLatestFile;
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return std::nullopt;
  std::string text;
  try {
    text = read_small_file(p, 64);
  } catch (const Error&) {
    return std::nullopt;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (!parse_version_name(text)) return std::nullopt;
  for (const Version& v : list()) {
    if (v.name == text) return v;
  }
  return std::nullopt;
}

LoadedVersion CheckpointRepository::load(const Version& version, std::int64_t max_bytes) const {
  const fs::path manifest_path = fs::path(version.path) / kManifestFile;
  LoadedVersion loaded;
  loaded.version = version;
  loaded.manifest = parse_manifest(read_small_file(manifest_path, kMaxManifestBytes), manifest_path.string());
  const Manifest& m = loaded.manifest;
  RF_CHECK_KIND(ErrorKind::kData, m.step == version.step, manifest_path.string(), ": step ", m.step,
                " does not match the version name ", version.name);
  RF_CHECK_KIND(ErrorKind::kConfig, m.format_version <= kFormatVersion, manifest_path.string(), ": format version ",
                m.format_version, " was written by a newer recforge; this build reads versions 1 to ", kFormatVersion);
  const Manifest::File& f = m.files.front();
  const fs::path file = fs::path(version.path) / f.name;
  RF_CHECK_KIND(ErrorKind::kData, f.bytes <= max_bytes, file.string(), ": ", f.bytes, " bytes, above the limit of ",
                max_bytes);
  // RELIABILITY S3 holds the reader here while retention deletes the version.
  fault::at_phase(0, "load_before_data", version.step);
  auto bytes = std::make_shared<std::vector<std::uint8_t>>(io::read_file_bytes(file.string(), max_bytes));
  fault::at_phase(0, "load_after_data", version.step);
  RF_CHECK_KIND(ErrorKind::kData, static_cast<std::int64_t>(bytes->size()) == f.bytes, file.string(), ": ",
                bytes->size(), " bytes, the manifest says ", f.bytes, " (truncated or replaced)");
  const std::string digest = Sha256::hex(Sha256::of(bytes->data(), bytes->size()));
  RF_CHECK_KIND(ErrorKind::kData, digest == f.sha256, file.string(), ": SHA-256 ", digest.substr(0, 16),
                "... does not match the manifest's ", f.sha256.substr(0, 16), "... (corrupt)");
  loaded.checkpoint_bytes = std::move(bytes);
  return loaded;
}

std::optional<LoadedVersion> CheckpointRepository::load_latest(std::vector<std::string>* rejected,
                                                               std::int64_t max_bytes) const {
  std::vector<Version> candidates = list();
  std::reverse(candidates.begin(), candidates.end());  // newest first
  if (const auto latest = latest_pointer()) {
    std::stable_partition(candidates.begin(), candidates.end(), [&](const Version& v) { return v.name == latest->name; });
  }
  for (const Version& v : candidates) {
    try {
      return load(v, max_bytes);
    } catch (const Error& e) {
      if (rejected) rejected->push_back(e.what());
    } catch (const std::filesystem::filesystem_error& e) {
      if (rejected) rejected->push_back(e.what());  // deleted while we looked (retention)
    }
  }
  return std::nullopt;
}

Version CheckpointRepository::version(const std::string& name) const {
  const auto step = parse_version_name(name);
  RF_CHECK_KIND(ErrorKind::kData, step.has_value(), "'", name, "' is not a checkpoint version name");
  return {name, *step, (fs::path(dir_) / name).string()};
}

LoadedVersion CheckpointRepository::require_latest(std::int64_t max_bytes) const {
  RF_CHECK_KIND(ErrorKind::kNotFound, fs::is_directory(dir_), "checkpoint directory '", dir_, "' ",
                fs::exists(dir_) ? "is not a directory" : "does not exist");
  std::vector<std::string> rejected;
  std::optional<LoadedVersion> loaded = load_latest(&rejected, max_bytes);
  for (const std::string& why : rejected) log::warn("checkpoint refused: {}", why);
  RF_CHECK_KIND(ErrorKind::kNotFound, loaded.has_value(), dir_, " has no loadable checkpoint version",
                rejected.empty() ? std::string() : " (" + fmt::format("{}", fmt::join(rejected, "; ")) + ")");
  return std::move(*loaded);
}

std::vector<std::string> CheckpointRepository::apply_retention(const Retention& policy, int rank) {
  RF_CHECK(policy.keep_last >= 1, "checkpoint retention must keep at least the newest version");
  const std::vector<Version> versions = list();
  std::set<std::string> keep;
  for (std::size_t i = versions.size() > static_cast<std::size_t>(policy.keep_last)
                           ? versions.size() - static_cast<std::size_t>(policy.keep_last)
                           : 0;
       i < versions.size(); ++i) {
    keep.insert(versions[i].name);
  }
  if (const auto latest = latest_pointer()) keep.insert(latest->name);
  for (const Version& v : versions) {
    if (policy.keep_every > 0 && v.step % policy.keep_every == 0) keep.insert(v.name);
  }
  if (!policy.best_metric.empty()) {
    std::optional<std::pair<double, std::string>> best;
    for (const Version& v : versions) {
      try {
        const Manifest m = parse_manifest(read_small_file(fs::path(v.path) / kManifestFile, kMaxManifestBytes), v.path);
        // A version saved after its evaluation's step carries an earlier state's metrics.
        if (m.metrics_step >= 0 && m.metrics_step != v.step) continue;
        for (const auto& [name, value] : m.metrics) {
          if (name != policy.best_metric) continue;
          if (!best || (policy.maximize ? value > best->first : value < best->first)) best = {{value, v.name}};
        }
      } catch (const Error&) {
        // an unreadable manifest is not the best version
      }
    }
    if (best) keep.insert(best->second);
  }
  std::vector<std::string> removed;
  for (const Version& v : versions) {
    if (keep.count(v.name)) continue;
    const fs::path trash = fs::path(dir_) / fmt::format(".trash-{}-{}", v.name, ::getpid());
    io::rename_durably(v.path, trash.string());  // no longer a version from here on
    fault::at_phase(rank, "retention_after_rename");
    fs::remove_all(trash);
    removed.push_back(v.name);
  }
  return removed;
}

void CheckpointRepository::remove_stale_temporaries() {
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    const bool temporary = name.rfind(".tmp-", 0) == 0 || name.rfind(".trash-", 0) == 0 ||
                           name.rfind(std::string(kLatestFile) + ".tmp-", 0) == 0;
    if (!temporary) continue;
    fs::remove_all(entry.path(), ec);
    if (!ec) log::info("checkpoints: removed {} left by an interrupted writer", entry.path().string());
  }
}

}  // namespace recforge::checkpoint
