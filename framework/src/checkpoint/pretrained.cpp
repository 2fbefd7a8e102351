// open_pretrained: another run's newest valid checkpoint (see pretrained.hpp).
#include "recforge/checkpoint/pretrained.hpp"

#include <filesystem>

#include "recforge/checkpoint/repository.hpp"
#include "recforge/core/error.hpp"

namespace recforge::checkpoint {

Pretrained open_pretrained(const std::string& dir, std::string_view model_type, const data::Dataset& dataset,
                           const std::string& key) {
  RF_CHECK_KIND(ErrorKind::kConfig, std::filesystem::is_directory(dir), key, ": '", dir,
                "' is not a checkpoint directory (a run's <output_dir>/<name>/checkpoints)");
  std::vector<std::string> rejected;
  std::optional<LoadedVersion> loaded = CheckpointRepository(dir).load_latest(&rejected);
  std::string why;
  for (const std::string& r : rejected) why += "\n  refused: " + r;
  RF_CHECK_KIND(ErrorKind::kConfig, loaded.has_value(), key, ": no loadable checkpoint in '", dir, "'", why);
  CheckpointReader reader(loaded->checkpoint_bytes, loaded->version.path + "/" + kCheckpointFile);
  RF_CHECK_KIND(ErrorKind::kConfig, reader.meta().model_type == model_type, key, ": ", reader.label(), " is a '",
                reader.meta().model_type, "' checkpoint, expected '", model_type, "'");
  RF_CHECK_KIND(ErrorKind::kConfig, reader.meta().dataset_fingerprint == dataset.fingerprint, key, ": ",
                reader.label(), " was trained on different data (fingerprint ",
                reader.meta().dataset_fingerprint.substr(0, 12), ", this run's ", dataset.fingerprint.substr(0, 12),
                "): its rows would be other users and items");
  ConfigNode config = load_config_string(reader.meta().config_yaml, reader.label() + "@config");
  return {std::move(reader), std::move(config)};
}

}  // namespace recforge::checkpoint
