// AnnIndex without Faiss: the option exists and says why it cannot be used.
#include "recforge/core/error.hpp"
#include "recforge/serve/ann_index.hpp"
#include "recforge/serve/snapshot.hpp"

namespace recforge::serve {

bool AnnIndex::available() { return false; }

std::unique_ptr<AnnIndex> AnnIndex::hnsw(const float*, std::int64_t, std::int64_t, int, int) {
  RF_THROW(ErrorKind::kConfig, "approximate search needs Faiss: install libfaiss-dev and reconfigure (RECFORGE_FAISS=ON)");
}

}  // namespace recforge::serve
