// AnnIndex over Faiss' HNSW graph with inner-product distance (the scores the
// exact path computes). Built once per snapshot; searched by many request
// threads at once (Faiss' const search is thread-safe).
#include <faiss/IndexHNSW.h>

#include <algorithm>

#include "recforge/core/error.hpp"
#include "recforge/serve/ann_index.hpp"
#include "recforge/serve/snapshot.hpp"

namespace recforge::serve {
namespace {

class FaissHnswIndex final : public AnnIndex {
 public:
  FaissHnswIndex(const float* items, std::int64_t n, std::int64_t d, int neighbors, int ef_search)
      : index_(static_cast<int>(d), neighbors, faiss::METRIC_INNER_PRODUCT), ef_search_(ef_search) {
    // A wider construction search than Faiss' default 40 buys recall at a
    // one-off cost per snapshot.
    index_.hnsw.efConstruction = std::max(80, 2 * neighbors);
    index_.add(n, items);
    // The beam width: Faiss 1.7 reads it from the index (the per-search
    // parameter below only sets when the search stops; alone, --ann-ef-search
    // left the beam at Faiss' default 16). Read-only once built.
    index_.hnsw.efSearch = ef_search;
  }

  std::vector<ScoredItem> search(std::span<const float> query, int k) const override {
    k = static_cast<int>(std::min<std::int64_t>(k, index_.ntotal));
    if (k <= 0) return {};
    std::vector<float> scores(static_cast<std::size_t>(k));
    std::vector<faiss::Index::idx_t> labels(static_cast<std::size_t>(k));
    faiss::SearchParametersHNSW params;
    params.efSearch = std::max(ef_search_, k);  // the beam must hold at least k
    index_.search(1, query.data(), k, scores.data(), labels.data(), &params);
    std::vector<ScoredItem> out;
    out.reserve(static_cast<std::size_t>(k));
    for (int j = 0; j < k; ++j) {
      if (labels[static_cast<std::size_t>(j)] < 0) break;  // fewer reachable items than k
      out.push_back({static_cast<std::int32_t>(labels[static_cast<std::size_t>(j)]), scores[static_cast<std::size_t>(j)]});
    }
    return out;
  }

 private:
  faiss::IndexHNSWFlat index_;
  int ef_search_;
};

}  // namespace

bool AnnIndex::available() { return true; }

std::unique_ptr<AnnIndex> AnnIndex::hnsw(const float* items, std::int64_t n, std::int64_t d, int neighbors,
                                         int ef_search) {
  RF_CHECK_KIND(ErrorKind::kConfig, neighbors >= 2 && neighbors <= 256, "--ann-neighbors must be in [2, 256], not ",
                neighbors);
  RF_CHECK_KIND(ErrorKind::kConfig, ef_search >= 1 && ef_search <= 100000, "--ann-ef-search must be in [1, 100000], not ",
                ef_search);
  return std::make_unique<FaissHnswIndex>(items, n, d, neighbors, ef_search);
}

}  // namespace recforge::serve
