// ScoreBatcher: leader/follower batching of exact top-k queries.
#include "score_batcher.hpp"

#include <algorithm>
#include <cmath>

#include "recforge/core/simd.hpp"
#include "recforge/serve/snapshot.hpp"

namespace recforge::serve {
namespace {

// Items per block: a block of 64-float rows (64 KB) stays in L2 while every
// query of the batch is scored against it.
constexpr std::int64_t kItemBlock = 256;

bool worse(const ScoredItem& a, const ScoredItem& b) {
  return a.score < b.score || (a.score == b.score && a.item > b.item);
}
bool heap_order(const ScoredItem& a, const ScoredItem& b) { return worse(b, a); }

// The running top-k of one query over items seen in increasing id order.
class TopK {
 public:
  TopK(int k, std::span<const std::int32_t> exclude) : k_(static_cast<std::size_t>(k)), exclude_(exclude) {
    heap_.reserve(k_);
  }

  void offer(std::int32_t item, float score) {
    if (k_ == 0) return;
    // Cheap rejection first: most items do not beat the current k-th.
    if (heap_.size() == k_ && !worse(heap_.front(), {item, score})) return;
    if (std::isnan(score)) return;
    while (next_excluded_ < exclude_.size() && exclude_[next_excluded_] < item) ++next_excluded_;
    if (next_excluded_ < exclude_.size() && exclude_[next_excluded_] == item) return;
    if (heap_.size() < k_) {
      heap_.push_back({item, score});
      std::push_heap(heap_.begin(), heap_.end(), heap_order);
    } else {
      std::pop_heap(heap_.begin(), heap_.end(), heap_order);
      heap_.back() = {item, score};
      std::push_heap(heap_.begin(), heap_.end(), heap_order);
    }
  }

  // Offers items first, first + 1, ... with `scores`. Once the heap is full
  // only scores above the current k-th can enter (an equal score has a larger
  // id, so it loses the tie): a tight scan finds those few.
  void offer_block(std::int32_t first, const float* scores, std::int64_t n) {
    if (k_ == 0) return;
    std::int64_t i = 0;
    for (; i < n && heap_.size() < k_; ++i) offer(first + static_cast<std::int32_t>(i), scores[i]);
    while (i < n) {
      const float threshold = heap_.front().score;
      while (i < n && !(scores[i] > threshold)) ++i;
      if (i == n) break;
      offer(first + static_cast<std::int32_t>(i), scores[i]);
      ++i;
    }
  }

  std::vector<ScoredItem> take() {
    std::sort(heap_.begin(), heap_.end(), [](const ScoredItem& a, const ScoredItem& b) { return worse(b, a); });
    return std::move(heap_);
  }

 private:
  std::size_t k_;
  std::span<const std::int32_t> exclude_;
  std::size_t next_excluded_ = 0;
  std::vector<ScoredItem> heap_;
};

// Inner products of `query` with item rows [begin, end), into out[0 .. end - begin).
void dot_block(const float* items, std::int64_t d, std::int64_t begin, std::int64_t end, const float* query, float* out) {
  using namespace simd;
  if (d % 16 != 0) {
    for (std::int64_t i = begin; i < end; ++i) {
      const float* row = items + i * d;
      float s = 0.0f;
      for (std::int64_t c = 0; c < d; ++c) s += row[c] * query[c];
      out[i - begin] = s;
    }
    return;
  }
  // Four rows at a time, accumulated in registers (of the target's width:
  // simd::VecN); their four horizontal sums share one shuffle tree.
  std::int64_t i = begin;
  for (; i + 4 <= end; i += 4) {
    const float* r = items + i * d;
    VecN a{}, b{}, c{}, e{};
    for (std::int64_t k = 0; k < d; k += kNativeFloats) {
      const VecN q = loadn(query + k);
      a += loadn(r + k) * q;
      b += loadn(r + d + k) * q;
      c += loadn(r + 2 * d + k) * q;
      e += loadn(r + 3 * d + k) * q;
    }
    store4(out + (i - begin), hsum4xn(a, b, c, e));
  }
  for (; i < end; ++i) {
    VecN a{};
    for (std::int64_t k = 0; k < d; k += kNativeFloats) a += loadn(items + i * d + k) * loadn(query + k);
    out[i - begin] = hsumn(a);
  }
}

}  // namespace

ScoreBatcher::ScoreBatcher(const float* items, std::int64_t num_items, std::int64_t dim, int max_batch,
                           int max_scoring_threads, std::shared_ptr<ScoringCounters> counters)
    : items_(items),
      num_items_(num_items),
      dim_(dim),
      max_batch_(std::max(1, max_batch)),
      max_scoring_threads_(std::max(1, max_scoring_threads)),
      counters_(counters ? std::move(counters) : std::make_shared<ScoringCounters>()) {}

std::vector<ScoredItem> ScoreBatcher::top_k(const float* query, int k, std::span<const std::int32_t> exclude) {
  Request mine{query, k, exclude, {}, nullptr, false};
  std::unique_lock lock(mutex_);
  queue_.push_back(&mine);
  while (!mine.done) {
    if (queue_.empty() || scoring_threads_ >= max_scoring_threads_) {
      done_.wait(lock);
      continue;
    }
    // Lead a batch: the oldest queued requests (ours among them or not).
    std::vector<Request*> batch;
    while (!queue_.empty() && static_cast<int>(batch.size()) < max_batch_) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    ++scoring_threads_;
    lock.unlock();
    try {
      score(batch);
    } catch (...) {
      for (Request* r : batch) r->error = std::current_exception();
    }
    lock.lock();
    --scoring_threads_;
    ++counters_->batches;
    counters_->queries += static_cast<std::int64_t>(batch.size());
    for (Request* r : batch) r->done = true;
    done_.notify_all();
  }
  lock.unlock();
  if (mine.error) std::rethrow_exception(mine.error);
  return std::move(mine.result);
}

void ScoreBatcher::score(std::span<Request* const> batch) const {
  std::vector<TopK> tops;
  tops.reserve(batch.size());
  for (const Request* r : batch) tops.emplace_back(std::max(0, r->k), r->exclude);
  float scores[kItemBlock];
  for (std::int64_t begin = 0; begin < num_items_; begin += kItemBlock) {
    const std::int64_t end = std::min(num_items_, begin + kItemBlock);
    for (std::size_t q = 0; q < batch.size(); ++q) {
      dot_block(items_, dim_, begin, end, batch[q]->query, scores);
      tops[q].offer_block(static_cast<std::int32_t>(begin), scores, end - begin);
    }
  }
  for (std::size_t q = 0; q < batch.size(); ++q) batch[q]->result = tops[q].take();
}

void ScoreBatcher::score_together(const float* queries, int count, int k,
                                  const std::vector<std::vector<std::int32_t>>& exclude,
                                  std::vector<std::vector<ScoredItem>>& results) const {
  std::vector<Request> requests;
  std::vector<Request*> batch;
  requests.reserve(static_cast<std::size_t>(count));
  for (int q = 0; q < count; ++q) {
    requests.push_back({queries + q * dim_, k, exclude[static_cast<std::size_t>(q)], {}, nullptr, false});
  }
  for (Request& r : requests) batch.push_back(&r);
  score(batch);
  results.resize(static_cast<std::size_t>(count));
  for (int q = 0; q < count; ++q) results[static_cast<std::size_t>(q)] = std::move(requests[static_cast<std::size_t>(q)].result);
}

std::int64_t ScoreBatcher::requests() const { return counters_->queries.load(); }

std::int64_t ScoreBatcher::batches() const { return counters_->batches.load(); }

}  // namespace recforge::serve
