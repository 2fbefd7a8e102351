// Writes a random ranking problem and recforge's metrics for it, for
// crosscheck_metrics.py to recompute independently with NumPy:
//   ranking_dump <dir>
// scores.txt (U x I), train.txt and relevant.txt (one user per line, relevant
// as item:rating), self_info.txt, ours.json (metrics per variant).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "ranking/ranking_kernels.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/core/tensor.hpp"

using namespace recforge;
using namespace recforge::ranking;

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::string dir = argv[1];
  const std::int64_t users = 150, items = 120, kmax = 50;
  const Resources res = Resources::cpu();
  std::vector<float> scores(static_cast<std::size_t>(users * items));
  for (std::size_t i = 0; i < scores.size(); ++i) scores[i] = static_cast<float>(philox_below(11, 1, i, 500)) / 7.0f;  // ties
  std::vector<std::int64_t> train_off = {0}, rel_off = {0};
  std::vector<std::int32_t> train_cols, rel_cols, groups;
  std::vector<float> gains, self_info(static_cast<std::size_t>(items));
  for (std::int64_t i = 0; i < items; ++i) self_info[static_cast<std::size_t>(i)] = 0.25f * static_cast<float>(i % 17);
  std::ofstream train_file(dir + "/train.txt"), rel_file(dir + "/relevant.txt");
  for (std::int64_t u = 0; u < users; ++u) {
    for (std::int32_t i = 0; i < items; ++i) {
      const std::uint32_t r = philox_below(11, 2, static_cast<std::uint64_t>(u * items + i), 100);
      if (r < 8 || u == users - 1) {  // the last user has seen every item: an empty list
        train_cols.push_back(i);
        train_file << i << ' ';
      } else if (r < 8 + 1 + static_cast<std::uint32_t>(u % 9)) {
        rel_cols.push_back(i);
        gains.push_back(0.5f * static_cast<float>(1 + philox_below(11, 3, rel_cols.size(), 10)));
        rel_file << i << ':' << gains.back() << ' ';
      }
    }
    train_file << '\n';
    rel_file << '\n';
    train_off.push_back(static_cast<std::int64_t>(train_cols.size()));
    rel_off.push_back(static_cast<std::int64_t>(rel_cols.size()));
    groups.push_back(0);
  }
  {
    std::ofstream out(dir + "/scores.txt");
    out.precision(9);
    for (std::int64_t u = 0; u < users; ++u) {
      for (std::int64_t i = 0; i < items; ++i) out << scores[static_cast<std::size_t>(u * items + i)] << (i + 1 < items ? ' ' : '\n');
    }
    std::ofstream info(dir + "/self_info.txt");
    for (float v : self_info) info << v << '\n';
  }
  Tensor s = Tensor::from_vector(scores, {users, items});
  mask(res, s, Tensor::from_vector(train_off), Tensor::from_vector(train_cols));
  Tensor ids = Tensor::empty({users, kmax}, DType::kI32), values = Tensor::empty({users, kmax}, DType::kF32);
  topk(res, s, ids, values);
  {
    std::ofstream out(dir + "/topk.txt");
    for (std::int32_t v : ids.to_vector<std::int32_t>()) out << v << '\n';
  }
  std::ofstream json(dir + "/ours.json");
  json.precision(12);
  json << "{";
  const int ks[] = {1, 5, 10, 50};
  bool first_variant = true;
  for (const char* variant : {"binary", "binary_min_k", "graded"}) {
    MetricSpec spec;
    spec.cutoffs = 4;
    for (int t = 0; t < 4; ++t) spec.k[t] = ks[t];
    spec.recall_min_k = std::string(variant) == "binary_min_k";
    spec.graded = std::string(variant) == "graded";
    Tensor sums = Tensor::zeros({1, spec.cutoffs * kMetricsPerK}, DType::kI64), counts = Tensor::zeros({1}, DType::kI64);
    const Tensor off_t = Tensor::from_vector(rel_off), cols_t = Tensor::from_vector(rel_cols), gains_t = Tensor::from_vector(gains);
    const Tensor groups_t = Tensor::from_vector(groups), info_t = Tensor::from_vector(self_info);
    metrics(res, MetricInputs{ids, off_t, cols_t, gains_t, groups_t, info_t, Tensor::empty({0, 1}, DType::kF32)}, spec, sums, counts);
    const auto total = sums.to_vector<std::int64_t>();
    const double n = static_cast<double>(counts.to_vector<std::int64_t>()[0]);
    json << (first_variant ? "" : ",") << "\n  \"" << variant << "\": {";
    first_variant = false;
    const char* names[] = {"hit_rate", "precision", "recall", "ndcg", "map", "mrr", "novelty"};
    bool first = true;
    for (int t = 0; t < 4; ++t) {
      for (int m = 0; m < 7; ++m) {
        // Novelty averages over the users with a non-empty list.
        const double over = m == kNovelty ? static_cast<double>(total[static_cast<std::size_t>(t * kMetricsPerK + kNoveltyLists)]) : n;
        json << (first ? "" : ", ") << "\"" << names[m] << "@" << ks[t] << "\": "
             << static_cast<double>(total[static_cast<std::size_t>(t * kMetricsPerK + m)]) / kFixedScale / over;
        first = false;
      }
    }
    json << "}";
  }
  json << "\n}\n";
  std::printf("wrote %lld users x %lld items to %s\n", static_cast<long long>(users), static_cast<long long>(items), dir.c_str());
  return 0;
}
