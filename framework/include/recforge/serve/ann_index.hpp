// Approximate maximum-inner-product search over the item embeddings, for
// `recforge serve --ann`: Faiss HNSW (Debian's libfaiss-dev) when recforge was
// built with it, else unavailable (available() says so).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace recforge::serve {

struct ScoredItem;

class AnnIndex {
 public:
  virtual ~AnnIndex() = default;
  // The `k` best items by inner product with `query` (approximately), best first.
  // Safe to call from several threads at once.
  virtual std::vector<ScoredItem> search(std::span<const float> query, int k) const = 0;

  static bool available();
  // HNSW over `items` (n x d, row-major f32), `neighbors` links per node; throws
  // when recforge was built without Faiss.
  static std::unique_ptr<AnnIndex> hnsw(const float* items, std::int64_t n, std::int64_t d, int neighbors,
                                        int ef_search);
};

}  // namespace recforge::serve
