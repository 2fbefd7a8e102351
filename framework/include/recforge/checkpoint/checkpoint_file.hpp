// One checkpoint version as one HDF5 file (layout: framework/README.md,
// "Checkpoint format"). The writer takes everything a resume and a server need;
// the reader treats the file as untrusted input: every name, type and shape is
// checked before anything is allocated or read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "recforge/core/tensor.hpp"
#include "recforge/data/interactions.hpp"
#include "recforge/log/metrics_log.hpp"

namespace recforge::io {
class H5File;
}

namespace recforge::checkpoint {

inline constexpr const char* kFormatName = "recforge-checkpoint";
// 1: the first layout. Readers accept 1..kFormatVersion (older versions are
// migrated on read); a newer version is refused.
inline constexpr std::int64_t kFormatVersion = 1;

// Where training stands: the next step to run is `step_in_epoch` of `epoch`.
struct Position {
  std::int64_t epoch = 0;
  std::int64_t step_in_epoch = 0;
  std::int64_t global_step = 0;
  // Partial sums of the running epoch (its log line after a resume).
  double epoch_loss_sum = 0;
  std::int64_t epoch_examples = 0;
  // Early stopping.
  double best_value = 0;
  std::int64_t best_epoch = -1;
  std::int64_t evals_since_best = 0;
};

struct Meta {
  std::int64_t format_version = kFormatVersion;
  std::string model_type;
  std::string recforge_version, git_revision, created;  // the writer fills empty ones
  std::int64_t world_size = 1;
  std::uint64_t seed = 0;
  std::string dataset_name, dataset_fingerprint;
  std::string config_yaml;
  // The writer's Model::revision() (/@model_revision; absent before 2026-12-07: 0).
  std::int64_t model_revision = 0;
};

struct NamedTensor {
  std::string name;
  Tensor value;  // CPU
};

struct ParameterState {
  std::string name;
  std::string kind;  // dense | embedding
  Tensor value;
  std::vector<NamedTensor> optimizer;  // slots (momentum, ...)
};

// What `recforge serve` needs, without the model's code.
struct Serving {
  Tensor user_embeddings, item_embeddings;   // (U, D), (I, D) f32; undefined for models without
  std::int64_t item_bias_columns = 0;        // trailing item columns that are biases (Model::item_bias_columns)
  std::vector<std::int64_t> item_popularity; // training interactions per item (cold-start ranking)
  std::vector<std::int64_t> seen_offsets;    // (U + 1): user u's training items are
  std::vector<std::int32_t> seen_items;      // seen_items[seen_offsets[u] .. seen_offsets[u + 1])
};

struct Contents {
  Meta meta;
  Position position;
  std::vector<ParameterState> params;
  data::IdMap users, items;
  Serving serving;
  MetricValues metrics;  // the evaluation at this step (may be empty)
};

// "2026-11-23T16:18:03Z"
std::string utc_timestamp();

// Row chunks of about this many bytes, each with a Fletcher32 checksum.
inline constexpr std::int64_t kChunkBytes = 1 << 20;

// Writes `contents` to `path` (created or truncated). Not atomic by itself: the
// repository writes to a temporary directory and renames (repository.hpp).
void write_checkpoint(const std::string& path, const Contents& contents);

// The most elements one array may have: readers refuse more, so the writer does.
inline constexpr std::int64_t kMaxArrayElements = std::int64_t{1} << 33;  // 32 GiB of f32

struct ReadLimits {
  std::int64_t max_elements_per_array = kMaxArrayElements;
};

// Reads a checkpoint from bytes already verified against its manifest.
class CheckpointReader {
 public:
  // Opens the image, refuses soft/external links, checks the format name and
  // version and reads the metadata. `label` names the file in errors.
  CheckpointReader(std::shared_ptr<const std::vector<std::uint8_t>> bytes, std::string label,
                   ReadLimits limits = {});
  ~CheckpointReader();
  CheckpointReader(CheckpointReader&&) noexcept;
  CheckpointReader& operator=(CheckpointReader&&) noexcept;

  const std::string& label() const { return label_; }
  const Meta& meta() const { return meta_; }
  Position position() const;
  std::vector<std::string> parameter_names() const;
  // A parameter (with its optimizer slots), checked to be f32 of `expected`
  // shape when given.
  ParameterState parameter(const std::string& name, const std::optional<Shape>& expected = std::nullopt) const;
  // Rows [begin, begin + count) of a parameter (a rank or server reading only its part).
  Tensor parameter_rows(const std::string& name, std::int64_t begin, std::int64_t count) const;
  data::IdMap users() const;
  data::IdMap items() const;
  Serving serving() const;
  MetricValues metrics() const;

 private:
  Tensor read_f32(const std::string& dataset, std::int64_t row_begin = 0, std::int64_t rows = -1) const;
  template <class T>
  std::vector<T> read_vector(const std::string& dataset, std::int64_t max_elements) const;
  data::IdMap read_ids(const std::string& name) const;
  void require_stored(const std::string& dataset, std::int64_t bytes) const;

  std::shared_ptr<const std::vector<std::uint8_t>> bytes_;
  std::string label_;
  ReadLimits limits_;
  std::unique_ptr<io::H5File> file_;
  Meta meta_;
};

}  // namespace recforge::checkpoint
