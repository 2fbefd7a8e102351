// One loaded checkpoint version, immutable once built: what every request of
// `recforge serve` reads. A reload builds a new Snapshot beside the old one and
// swaps a shared_ptr, so a request sees one version from start to end.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "recforge/checkpoint/checkpoint_file.hpp"
#include "recforge/checkpoint/repository.hpp"

namespace recforge {
class Model;
class Communicator;
class Resources;
}  // namespace recforge

namespace recforge::serve {

class AnnIndex;

struct ScoredItem {
  std::int32_t item;  // dense id
  float score;
};

// Exact queries and the batches they were scored in over the server's life:
// every version's batcher adds to the same counters (per version they went
// back to zero at each reload, which broke /metrics rates).
struct ScoringCounters {
  std::atomic<std::int64_t> queries{0}, batches{0};
};

struct SnapshotOptions {
  bool build_ann = false;     // approximate index over the item embeddings (Faiss HNSW)
  int ann_neighbors = 32;     // HNSW M
  int ann_ef_search = 128;
  int max_batch = 32;         // exact queries scored together (score_batcher.hpp)
  int scoring_threads = 0;    // request threads scoring at once (0: the machine's cores)
  std::shared_ptr<ScoringCounters> counters = std::make_shared<ScoringCounters>();  // shared by copies
};

class ScoreBatcher;

class Snapshot {
 public:
  // Builds from a verified version (hash checked). Throws on anything invalid.
  static std::shared_ptr<const Snapshot> load(const checkpoint::LoadedVersion& version, const SnapshotOptions& options);
  ~Snapshot();

  const std::string& version() const { return version_.name; }
  std::int64_t step() const { return version_.step; }
  const checkpoint::Manifest& manifest() const { return manifest_; }
  const checkpoint::Meta& meta() const { return meta_; }
  const MetricValues& metrics() const { return metrics_; }
  std::int64_t dim() const { return dim_; }
  bool has_embeddings() const { return dim_ > 0; }
  bool can_fold_in() const { return model_ != nullptr; }
  bool has_ann() const { return ann_ != nullptr; }
  // Exact queries scored so far and the batches they were scored in.
  std::pair<std::int64_t, std::int64_t> exact_batches() const;
  std::chrono::system_clock::time_point loaded_at() const { return loaded_at_; }

  const data::IdMap& users() const { return users_; }
  const data::IdMap& items() const { return items_; }
  // The longest user or item id, in bytes (as text).
  std::size_t longest_id() const { return longest_id_; }
  std::int32_t num_users() const { return static_cast<std::int32_t>(users_.size()); }
  std::int32_t num_items() const { return static_cast<std::int32_t>(items_.size()); }
  // A user's training items, in training order.
  std::span<const std::int32_t> seen(std::int32_t user) const;

  // Top k items for a known user, without their training items (when exclude_seen).
  std::vector<ScoredItem> recommend(std::int32_t user, int k, bool exclude_seen, bool approximate) const;
  // A known user's trained embedding (has_embeddings() only).
  std::span<const float> user_embedding(std::int32_t user) const;
  // Top k items for an embedding (fold-in), without the items in `exclude` (sorted).
  std::vector<ScoredItem> recommend_vector(std::span<const float> user, int k, std::span<const std::int32_t> exclude,
                                           bool approximate) const;
  // The most popular items (cold start), without `exclude` (sorted); score = training count.
  std::vector<ScoredItem> popular(int k, std::span<const std::int32_t> exclude) const;
  // Items whose embeddings have the largest cosine similarity with `item`'s.
  std::vector<ScoredItem> similar(std::int32_t item, int k) const;
  // A user embedding from interactions (model fold-in); nullopt when unsupported.
  std::optional<std::vector<float>> fold_in(std::span<const std::int32_t> items, std::span<const float> values) const;

 private:
  Snapshot();
  std::vector<ScoredItem> exact_top_k(const float* query, int k, std::span<const std::int32_t> exclude) const;

  checkpoint::Version version_;
  checkpoint::Manifest manifest_;
  checkpoint::Meta meta_;
  MetricValues metrics_;
  data::IdMap users_, items_;
  checkpoint::Serving serving_;
  std::int64_t dim_ = 0;
  std::int64_t feature_dim_ = 0;  // dim_ less the item bias columns (similar() compares these)
  std::size_t longest_id_ = 0;
  std::vector<float> item_norms_;            // for /v1/similar
  std::vector<std::int32_t> by_popularity_;  // item ids, most popular first
  std::chrono::system_clock::time_point loaded_at_;
  std::unique_ptr<Resources> resources_;
  std::unique_ptr<Communicator> comm_;
  std::unique_ptr<Model> model_;  // for fold-in only
  std::unique_ptr<AnnIndex> ann_;
  std::unique_ptr<ScoreBatcher> batcher_;
};

// Exact top-k of `scores` (ties: smaller item id first), skipping `exclude` (sorted).
std::vector<ScoredItem> top_k(std::span<const float> scores, int k, std::span<const std::int32_t> exclude);

}  // namespace recforge::serve
