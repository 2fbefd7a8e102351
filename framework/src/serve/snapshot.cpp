// Snapshot: a loaded checkpoint version and the top-K queries over it.
#include "recforge/serve/snapshot.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <thread>

#include "recforge/checkpoint/checkpointer.hpp"
#include "recforge/comm/communicator.hpp"
#include "recforge/config/config_node.hpp"
#include "recforge/config/job_config.hpp"
#include "recforge/core/resources.hpp"
#include "recforge/log/logging.hpp"
#include "recforge/model/model.hpp"
#include "recforge/registry/plugin_registry.hpp"
#include "recforge/serve/ann_index.hpp"
#include "score_batcher.hpp"

namespace recforge::serve {

namespace {

// Worse first: lower score, or equal score and larger id (ties go to the smaller id).
bool worse(const ScoredItem& a, const ScoredItem& b) {
  return a.score < b.score || (a.score == b.score && a.item > b.item);
}
// The heap keeps the worst kept item on top.
bool heap_order(const ScoredItem& a, const ScoredItem& b) { return worse(b, a); }

bool excluded(std::span<const std::int32_t> exclude, std::int32_t item) {
  return std::binary_search(exclude.begin(), exclude.end(), item);
}

}  // namespace

std::vector<ScoredItem> top_k(std::span<const float> scores, int k, std::span<const std::int32_t> exclude) {
  std::vector<ScoredItem> heap;
  if (k <= 0) return heap;
  heap.reserve(static_cast<std::size_t>(k));
  std::size_t next_excluded = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    const auto item = static_cast<std::int32_t>(i);
    while (next_excluded < exclude.size() && exclude[next_excluded] < item) ++next_excluded;
    if (next_excluded < exclude.size() && exclude[next_excluded] == item) continue;
    const ScoredItem candidate{item, scores[i]};
    if (std::isnan(candidate.score)) continue;
    if (heap.size() < static_cast<std::size_t>(k)) {
      heap.push_back(candidate);
      std::push_heap(heap.begin(), heap.end(), heap_order);
    } else if (worse(heap.front(), candidate)) {
      std::pop_heap(heap.begin(), heap.end(), heap_order);
      heap.back() = candidate;
      std::push_heap(heap.begin(), heap.end(), heap_order);
    }
  }
  std::sort(heap.begin(), heap.end(), [](const ScoredItem& a, const ScoredItem& b) { return worse(b, a); });
  return heap;
}

Snapshot::Snapshot() = default;
Snapshot::~Snapshot() = default;

std::shared_ptr<const Snapshot> Snapshot::load(const checkpoint::LoadedVersion& version, const SnapshotOptions& options) {
  std::shared_ptr<Snapshot> s(new Snapshot());
  const checkpoint::CheckpointReader reader(version.checkpoint_bytes,
                                            version.version.path + "/" + checkpoint::kCheckpointFile);
  s->version_ = version.version;
  s->manifest_ = version.manifest;
  s->meta_ = reader.meta();
  s->metrics_ = reader.metrics();
  s->users_ = reader.users();
  s->items_ = reader.items();
  for (const data::IdMap* ids : {&s->users_, &s->items_}) {
    for (const std::string& id : ids->string_ids()) s->longest_id_ = std::max(s->longest_id_, id.size());
  }
  s->serving_ = reader.serving();
  const checkpoint::Serving& sv = s->serving_;
  RF_CHECK_KIND(ErrorKind::kHdf5,
                static_cast<std::int64_t>(sv.seen_offsets.size()) == s->users_.size() + 1 &&
                    static_cast<std::int64_t>(sv.item_popularity.size()) == s->items_.size(),
                reader.label(), ": /ids and /serving disagree on the number of users or items");
  if (sv.item_embeddings.defined()) {
    s->dim_ = sv.item_embeddings.size(1);
    // Items are similar by their features: the bias columns are left out.
    s->feature_dim_ = s->dim_ - sv.item_bias_columns;
    s->item_norms_.resize(static_cast<std::size_t>(s->num_items()));
    const float* e = sv.item_embeddings.data_as<float>();
    for (std::int64_t i = 0; i < s->num_items(); ++i) {
      double n = 0;
      for (std::int64_t c = 0; c < s->feature_dim_; ++c) n += static_cast<double>(e[i * s->dim_ + c]) * e[i * s->dim_ + c];
      s->item_norms_[static_cast<std::size_t>(i)] = static_cast<float>(std::sqrt(n));
    }
  }
  s->by_popularity_.resize(static_cast<std::size_t>(s->num_items()));
  std::iota(s->by_popularity_.begin(), s->by_popularity_.end(), 0);
  std::stable_sort(s->by_popularity_.begin(), s->by_popularity_.end(), [&](std::int32_t a, std::int32_t b) {
    return sv.item_popularity[static_cast<std::size_t>(a)] > sv.item_popularity[static_cast<std::size_t>(b)];
  });

  // The model itself only for fold-in, built from the checkpoint's model section
  // (validated against the registered schema; plugins are never loaded from it).
  try {
    const ConfigNode job = load_config_string(s->meta_.config_yaml, reader.label() + "@config");
    const ConfigNode* model_section = job.find("model");
    if (model_section != nullptr && ModelRegistry::instance().find(s->meta_.model_type) != nullptr) {
      const ConfigNode resolved = resolve_model_section(*model_section);
      auto model = ModelRegistry::instance().get(resolved.get_string("type")).create(resolved);
      if (model->supports_fold_in()) {
        // Another revision's parameters would fold users in by another function than the stored vectors'.
        checkpoint::require_model_revision(s->meta_, *model, reader.label());
        s->resources_ = std::make_unique<Resources>(Resources::cpu(1));
        s->comm_ = make_single_communicator();
        model->build(ModelContext{nullptr, s->resources_.get(), s->comm_.get(), s->meta_.seed, s->num_users(),
                                  s->num_items()});
        for (Parameter* p : model->parameters()) {
          p->value().copy_from(reader.parameter(p->name(), p->value().shape()).value);
        }
        s->model_ = std::move(model);
      }
    }
  } catch (const Error& e) {
    log::warn("{}: fold-in unavailable for this version ({})", reader.label(), e.what());
  }
  if (s->has_embeddings()) {
    const int threads = options.scoring_threads > 0 ? options.scoring_threads
                                                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    s->batcher_ = std::make_unique<ScoreBatcher>(sv.item_embeddings.data_as<float>(), s->num_items(), s->dim_,
                                                 options.max_batch, threads, options.counters);
  }
  if (options.build_ann && s->has_embeddings()) {
    s->ann_ = AnnIndex::hnsw(sv.item_embeddings.data_as<float>(), s->num_items(), s->dim_, options.ann_neighbors,
                             options.ann_ef_search);
  }
  s->loaded_at_ = std::chrono::system_clock::now();
  return s;
}

std::span<const std::int32_t> Snapshot::seen(std::int32_t user) const {
  const auto u = static_cast<std::size_t>(user);
  const std::int64_t begin = serving_.seen_offsets[u], end = serving_.seen_offsets[u + 1];
  return {serving_.seen_items.data() + begin, static_cast<std::size_t>(end - begin)};
}

std::pair<std::int64_t, std::int64_t> Snapshot::exact_batches() const {
  if (!batcher_) return {0, 0};
  return {batcher_->requests(), batcher_->batches()};
}

std::vector<ScoredItem> Snapshot::exact_top_k(const float* query, int k, std::span<const std::int32_t> exclude) const {
  return batcher_->top_k(query, k, exclude);
}

std::vector<ScoredItem> Snapshot::recommend_vector(std::span<const float> user, int k,
                                                   std::span<const std::int32_t> exclude, bool approximate) const {
  RF_CHECK(static_cast<std::int64_t>(user.size()) == dim_, "user embedding of ", user.size(), " dimensions, items have ",
           dim_);
  if (approximate && ann_) {
    // Ask for enough extra candidates to survive the exclusions.
    // Ask for enough extra candidates to survive the exclusions, within a
    // bound: a graph search for thousands of neighbours costs more than the
    // exact scan, which answers the rare user whose exclusions eat them all.
    const std::size_t extra = std::min<std::size_t>(exclude.size(), 4 * static_cast<std::size_t>(k) + 256);
    const int wanted = k + static_cast<int>(extra);
    std::vector<ScoredItem> candidates = ann_->search(user, wanted);
    std::vector<ScoredItem> out;
    for (const ScoredItem& c : candidates) {
      if (!excluded(exclude, c.item)) out.push_back(c);
      if (static_cast<int>(out.size()) == k) return out;
    }
    if (static_cast<int>(candidates.size()) < wanted && extra == exclude.size()) return out;  // a small catalog
  }
  return exact_top_k(user.data(), k, exclude);
}

std::vector<ScoredItem> Snapshot::recommend(std::int32_t user, int k, bool exclude_seen, bool approximate) const {
  std::vector<std::int32_t> exclude;
  if (exclude_seen) {
    const auto s = seen(user);
    exclude.assign(s.begin(), s.end());
    std::sort(exclude.begin(), exclude.end());
  }
  return recommend_vector(user_embedding(user), k, exclude, approximate);
}

std::span<const float> Snapshot::user_embedding(std::int32_t user) const {
  const float* row = serving_.user_embeddings.data_as<float>() + static_cast<std::int64_t>(user) * dim_;
  return {row, static_cast<std::size_t>(dim_)};
}

std::vector<ScoredItem> Snapshot::popular(int k, std::span<const std::int32_t> exclude) const {
  std::vector<ScoredItem> out;
  for (std::int32_t i : by_popularity_) {
    if (static_cast<int>(out.size()) >= k) break;
    if (excluded(exclude, i)) continue;
    out.push_back({i, static_cast<float>(serving_.item_popularity[static_cast<std::size_t>(i)])});
  }
  return out;
}

std::vector<ScoredItem> Snapshot::similar(std::int32_t item, int k) const {
  // A pass over every item, as an exact query's: it takes a scoring slot
  // (--scoring-threads), so similar-item requests cannot crowd out the rest.
  return batcher_->in_scoring_slot([&] {
    std::vector<float> scores(static_cast<std::size_t>(num_items()));
    const float* e = serving_.item_embeddings.data_as<float>();
    const float* q = e + static_cast<std::int64_t>(item) * dim_;
    const float qn = item_norms_[static_cast<std::size_t>(item)];
    for (std::int64_t i = 0; i < num_items(); ++i) {
      float s = 0.0f;
#pragma omp simd reduction(+ : s)
      for (std::int64_t c = 0; c < feature_dim_; ++c) s += e[i * dim_ + c] * q[c];
      const float norm = qn * item_norms_[static_cast<std::size_t>(i)];
      scores[static_cast<std::size_t>(i)] = norm > 0.0f ? s / norm : 0.0f;
    }
    const std::int32_t self[] = {item};
    return top_k(scores, k, self);
  });
}

std::optional<std::vector<float>> Snapshot::fold_in(std::span<const std::int32_t> items,
                                                    std::span<const float> values) const {
  if (!model_) return std::nullopt;
  std::vector<float> user(static_cast<std::size_t>(dim_));
  if (!model_->fold_in(items, values, user)) return std::nullopt;
  return user;
}

}  // namespace recforge::serve
