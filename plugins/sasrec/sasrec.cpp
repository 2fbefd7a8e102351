// SASRec (Kang & McAuley, ICDM 2018): next-item prediction with causal
// self-attention over each user's training sequence.
//   input   the last `max_len` items before each target, left-padded
//   x       item_embedding * sqrt(d) + position_embedding, dropout, padding rows zeroed
//   blocks  `blocks` pre-norm Transformer blocks (causal attention, point-wise FFN),
//           padding rows zeroed after each; a final LayerNorm
//   loss    BCE of h_t . e(next item) against h_t . e(one sampled negative) at every
//           non-padding position, averaged over those positions of the global batch
// Item embeddings are shared between input and prediction (row 0: padding).
// Positions are stored packed by default (nn::SequenceLayout): padding
// positions share one row, which computes the same function with about half
// the row-wise work on MovieLens histories.
// An example is a user (num_examples()), so a batch is `batch_size` sequences.
// At evaluation the user's vector is the last position's output over their whole
// training sequence, scored against the item embeddings (embeddings()): full and
// sampled ranking then run as for any factor model, and `recforge serve` serves it.
#include <algorithm>
#include <climits>
#include <cmath>
#include <span>
#include <utility>
#include <vector>

#include "recforge/autograd/ops.hpp"
#include "recforge/comm/communicator.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/data/interactions.hpp"
#include "recforge/data/sampler.hpp"
#include "recforge/kernels/random.hpp"
#include "recforge/model/model.hpp"
#include "recforge/nn/layers.hpp"
#include "recforge/registry/plugin_registry.hpp"

namespace recforge::sasrec {
namespace {

// The model predicts a user's next item from the items before it: a held-out
// row older than the user's last training row (a random split) would be
// "predicted" from a history that holds its future.
void check_held_out_after_training(const data::Dataset& d) {
  if (!d.train.has_timestamps()) return;
  std::vector<std::int64_t> last(static_cast<std::size_t>(d.num_users()), INT64_MIN);
  for (std::size_t r = 0; r < d.train.user.size(); ++r) {
    std::int64_t& t = last[static_cast<std::size_t>(d.train.user[r])];
    t = std::max(t, d.train.timestamp[r]);
  }
  for (const auto& [table, name] : {std::pair{&d.valid, "validation"}, std::pair{&d.test, "test"}}) {
    if (!table->has_timestamps()) continue;
    for (std::size_t r = 0; r < table->user.size(); ++r) {
      const std::int32_t u = table->user[r];
      RF_CHECK_KIND(ErrorKind::kConfig, table->timestamp[r] >= last[static_cast<std::size_t>(u)],
                    "sasrec predicts each user's next item from the items before it, but user ", d.users.text(u),
                    " has a ", name, " interaction at time ", table->timestamp[r], ", before their last training one (",
                    last[static_cast<std::size_t>(u)], "); the split mixes the timeline: use data.split.method "
                    "leave_one_out, user_temporal or global_temporal");
    }
  }
}

class SasRecModel final : public Model {
 public:
  static Schema config_schema() {
    Schema s("SASRec (Kang & McAuley 2018): causal self-attention over user sequences, BCE with a sampled negative");
    s.add_int("dim", 50, "hidden width d", 1, 4096)
        .add_int("blocks", 2, "Transformer blocks", 1, 31)  // (dropout streams: 128 a block)
        .add_int("heads", 1, "attention heads (d must divide by it)", 1, 64)
        .add_int("max_len", 200, "sequence length: the latest items kept", 2, 4096)
        .add_float("dropout", 0.2, "dropout on the input, attention weights and FFN", 0.0, 0.95)
        .add_float("init_std", 0.02, "standard deviation of the embeddings' normal initialisation", 0.0)
        .add_string("activation", "relu", "FFN activation", {"relu", "gelu"})
        .add_string("attention", "fused", "attention kernel: fused, or the composed ops it is checked against",
                    {"fused", "composed"})
        .add_bool("packed", true,
                  "store only the positions that hold an item plus one shared padding row (the same function as "
                  "computing every padding position, with other dropout masks); false computes the padded layout, "
                  "as the paper's code does");
    return s;
  }

  explicit SasRecModel(const ConfigNode& c)
      : dim_(c.get_int("dim")),
        blocks_(c.get_int("blocks")),
        heads_(c.get_int("heads")),
        max_len_(c.get_int("max_len")),
        dropout_(static_cast<float>(c.get_double("dropout"))),
        init_std_(static_cast<float>(c.get_double("init_std"))),
        activation_(c.get_string("activation") == "gelu" ? kernels::Activation::kGelu : kernels::Activation::kRelu),
        attention_(c.get_string("attention") == "composed" ? nn::AttentionKernel::kComposed
                                                            : nn::AttentionKernel::kFused),
        packed_(c.get_bool("packed")) {
    RF_CHECK_KIND(ErrorKind::kConfig, dim_ % heads_ == 0, c["heads"].where(), ": model.dim ", dim_,
                  " does not split into ", heads_, " heads");
  }

  std::string_view type() const override { return "sasrec"; }
  std::vector<Parameter*> parameters() override { return params_; }
  std::int64_t num_examples() const override { return static_cast<std::int64_t>(sequences_.size()); }
  StepStats train_step(const TrainBatch& batch) override;
  bool embeddings(Tensor& users, Tensor& items) override;
  // 1: attention masks the padding keys (2026-12-07); 0 attended to them.
  std::int64_t revision() const override { return 1; }
  // The validation rows while the test split is scored: each user's vector
  // then reads them after the training items (the paper's test protocol).
  void set_extra_history(const data::InteractionTable* rows) override {
    extra_history_.clear();
    if (rows == nullptr) return;
    extra_history_.resize(sequences_.size());
    for (std::size_t r = 0; r < rows->user.size(); ++r) {  // rows are in (user, time) order
      extra_history_[static_cast<std::size_t>(rows->user[r])].push_back(rows->item[r]);
    }
  }
  // Next-item inference for a posted history (the server's fold-in): `items`
  // in time order, the latest max_len kept; the vector is the last position's
  // output, as embeddings() gives for a training user. `values` are ignored.
  bool fold_in(std::span<const std::int32_t> items, std::span<const float> values, std::span<float> user) override;
  bool supports_fold_in() const override { return true; }

 protected:
  void build_impl(const ModelContext& ctx) override;

 private:
  // The last position's output of each of n right-aligned, left-padded rows
  // of item ids (+1; 0 = padding): (n, d) on the CPU. No training mode.
  Tensor last_outputs(const std::vector<std::int32_t>& ids, std::int64_t n) const;
  // How n sequences of item ids ((n * L), 0 = padding) are stored as rows;
  // `first_sequence` and `first_row` place this rank's in the global batch.
  nn::SequenceLayout layout_of(const std::vector<std::int32_t>& ids, std::int64_t n, std::uint64_t first_sequence,
                               std::uint64_t first_row) const;
  // Hidden states (layout.rows(), d) of item ids `ids` ((n * L), 0 = padding).
  ag::Var encode(ag::Graph& g, const std::vector<std::int32_t>& ids, const nn::SequenceLayout& layout,
                 std::uint64_t step) const;
  Tensor on_device(const std::vector<std::int32_t>& v) const {
    const Resources& res = *context().resources;
    return Tensor::from_vector(v).to(res.device(), res.stream());
  }
  Tensor on_device(const std::vector<float>& v, const Shape& shape) const {
    const Resources& res = *context().resources;
    return Tensor::from_vector(v, shape).to(res.device(), res.stream());
  }

  std::int64_t dim_, blocks_, heads_, max_len_;
  float dropout_, init_std_;
  kernels::Activation activation_;
  nn::AttentionKernel attention_;
  bool packed_;
  std::unique_ptr<nn::Embedding> items_;       // (I + 1, d): row 0 is padding
  std::unique_ptr<Parameter> positions_;       // (L, d)
  std::vector<std::unique_ptr<nn::TransformerBlock>> layers_;
  std::unique_ptr<nn::LayerNorm> final_norm_;
  std::vector<Parameter*> params_;
  std::vector<std::vector<std::int32_t>> sequences_;  // per user, training items in time order
  std::vector<std::vector<std::int32_t>> extra_history_;  // per user, items after them (empty: none)
  data::Csr positives_;
  std::unique_ptr<data::NegativeSampler> sampler_;
};

void SasRecModel::build_impl(const ModelContext& ctx) {
  const Resources& res = *ctx.resources;
  const std::int32_t users = ctx.dataset ? ctx.dataset->num_users() : ctx.num_users;
  const std::int32_t items = ctx.dataset ? ctx.dataset->num_items() : ctx.num_items;
  nn::Init init{ctx.resources, ctx.seed, 0};
  items_ = std::make_unique<nn::Embedding>("sasrec.items", items + 1, dim_, init_std_, init);
  Tensor pos = Tensor::empty({max_len_, dim_}, DType::kF32, res.device(), res.stream());
  kernels::fill_normal(res, pos, 0.0f, init_std_, ctx.seed, rng_stream(RngPurpose::kInit, init.next_stream++));
  positions_ = std::make_unique<Parameter>("sasrec.positions", pos, Parameter::Kind::kDense);
  for (std::int64_t b = 0; b < blocks_; ++b) {
    layers_.push_back(std::make_unique<nn::TransformerBlock>("sasrec.block" + std::to_string(b), dim_, heads_, dropout_,
                                                             activation_, init, attention_));
  }
  final_norm_ = std::make_unique<nn::LayerNorm>("sasrec.final_norm", dim_, res, 1e-8f);
  for (Parameter* p : items_->parameters()) params_.push_back(p);
  params_.push_back(positions_.get());
  for (const auto& l : layers_) {
    for (Parameter* p : l->parameters()) params_.push_back(p);
  }
  for (Parameter* p : final_norm_->parameters()) params_.push_back(p);
  if (!ctx.dataset) return;
  const data::Dataset& d = *ctx.dataset;
  check_held_out_after_training(d);
  // Rows are ordered by (user, time) by the data preparation: each user's
  // training items in order.
  sequences_.assign(static_cast<std::size_t>(users), {});
  for (std::int64_t r = 0; r < d.train.size(); ++r) {
    sequences_[static_cast<std::size_t>(d.train.user[static_cast<std::size_t>(r)])].push_back(
        d.train.item[static_cast<std::size_t>(r)]);
  }
  positives_ = data::user_item_csr(data::InteractionTable{d.train.user, d.train.item, {}, {}}, users);
  std::vector<std::int64_t> counts(static_cast<std::size_t>(items), 0);
  for (std::int32_t i : d.train.item) ++counts[static_cast<std::size_t>(i)];
  sampler_ = std::make_unique<data::NegativeSampler>(items, data::NegativeSampler::Distribution::kUniform, &positives_,
                                                     counts);
}

nn::SequenceLayout SasRecModel::layout_of(const std::vector<std::int32_t>& ids, std::int64_t n,
                                          std::uint64_t first_sequence, std::uint64_t first_row) const {
  return packed_ ? nn::SequenceLayout::packed(*context().resources, ids, n, max_len_, first_sequence, first_row)
                 : nn::SequenceLayout::padded(*context().resources, ids, n, max_len_, first_sequence);
}

ag::Var SasRecModel::encode(ag::Graph& g, const std::vector<std::int32_t>& ids, const nn::SequenceLayout& layout,
                            std::uint64_t step) const {
  const std::int64_t rows = layout.rows();
  std::vector<std::int32_t> position(ids.size());
  for (std::size_t p = 0; p < ids.size(); ++p) position[p] = static_cast<std::int32_t>(p % static_cast<std::size_t>(max_len_));
  const std::vector<std::int32_t> row_ids = layout.to_rows(ids, 0), row_positions = layout.to_rows(position, 0);
  std::vector<float> mask(static_cast<std::size_t>(rows * dim_));
  for (std::int64_t r = 0; r < rows; ++r) {
    const float keep = row_ids[static_cast<std::size_t>(r)] != 0 ? 1.0f : 0.0f;
    std::fill_n(mask.begin() + r * dim_, dim_, keep);
  }
  const ag::Var padding = g.constant(on_device(mask, Shape{rows, dim_}));
  const std::uint64_t key = step_key(context().seed, step);
  const std::uint64_t stream = rng_stream(RngPurpose::kDropout);
  ag::Var x = ag::scale(items_->forward(g, on_device(row_ids)), std::sqrt(static_cast<float>(dim_)));
  x = ag::add(x, ag::gather_rows(g.parameter(*positions_), on_device(row_positions)));
  x = ag::mul(ag::dropout(x, dropout_, {key, stream, layout.first_row() * static_cast<std::uint64_t>(dim_)}),
              padding);
  for (std::size_t b = 0; b < layers_.size(); ++b) {
    x = ag::mul(layers_[b]->forward(g, x, layout, {key, stream + 128 * (b + 1)}), padding);
  }
  return final_norm_->forward(g, x);
}

StepStats SasRecModel::train_step(const TrainBatch& batch) {
  const Resources& res = *context().resources;
  Communicator& comm = *context().comm;
  const auto n = static_cast<std::int64_t>(batch.rows.size());
  const std::int64_t rows = n * max_len_;
  std::vector<std::int32_t> input(static_cast<std::size_t>(rows), 0), target(input.size(), 0), negative(input.size(), 0);
  std::vector<float> weight(input.size(), 0.0f);
  const std::uint64_t stream = rng_stream(RngPurpose::kNegatives, static_cast<std::uint32_t>(batch.epoch));
  std::int64_t positions = 0;
  for (std::int64_t k = 0; k < n; ++k) {
    const std::uint32_t user = batch.rows[static_cast<std::size_t>(k)];
    const auto& seq = sequences_[user];
    // Inputs seq[t], targets seq[t + 1], the latest max_len pairs, right-aligned.
    const std::int64_t pairs = std::min<std::int64_t>(max_len_, static_cast<std::int64_t>(seq.size()) - 1);
    for (std::int64_t p = 0; p < pairs; ++p) {
      const std::int64_t t = static_cast<std::int64_t>(seq.size()) - 1 - pairs + p;
      const auto at = static_cast<std::size_t>(k * max_len_ + (max_len_ - pairs) + p);
      input[at] = seq[static_cast<std::size_t>(t)] + 1;
      target[at] = seq[static_cast<std::size_t>(t + 1)] + 1;
      negative[at] = sampler_->sample(static_cast<std::int32_t>(user), context().seed, stream,
                                      (static_cast<std::uint64_t>(user) << 32) | static_cast<std::uint64_t>(t)) + 1;
      weight[at] = 1.0f;
    }
    positions += std::max<std::int64_t>(0, pairs);
  }
  // This rank's sequences and positions start after the lower ranks' (BatchSchedule
  // cuts the global batch in rank order): the dropout masks' places.
  const std::vector<std::int64_t> counts = comm.allgather_int(n), filled = comm.allgather_int(positions);
  std::uint64_t first_sequence = 0, first_row = 0;
  std::int64_t global_positions = 0;
  for (int r = 0; r < comm.world_size(); ++r) {
    if (r < comm.rank()) {
      first_sequence += static_cast<std::uint64_t>(counts[static_cast<std::size_t>(r)]);
      first_row += static_cast<std::uint64_t>(filled[static_cast<std::size_t>(r)]);
    }
    global_positions += filled[static_cast<std::size_t>(r)];
  }
  // No sequences here (the last global batch is shorter than the ranks): no
  // gradient to add; the trainer's exchange still runs on every rank.
  if (n == 0) return {0.0, 0};
  const nn::SequenceLayout layout = layout_of(input, n, first_sequence, first_row);
  const std::int64_t stored = layout.rows();
  ag::Graph g(res);
  const ag::Var h = encode(g, input, layout, static_cast<std::uint64_t>(batch.global_step));
  const ag::Var pos = ag::rowwise_dot(h, items_->forward(g, on_device(layout.to_rows(target, 0))));
  const ag::Var neg = ag::rowwise_dot(h, items_->forward(g, on_device(layout.to_rows(negative, 0))));
  const Tensor ones = on_device(std::vector<float>(static_cast<std::size_t>(stored), 1.0f), Shape{stored});
  const Tensor zeros = on_device(std::vector<float>(static_cast<std::size_t>(stored), 0.0f), Shape{stored});
  const ag::Var w = g.constant(on_device(layout.to_rows(weight, 0.0f), Shape{stored}));
  const ag::Var loss = ag::sum(ag::mul(ag::add(ag::bce_with_logits(pos, ones), ag::bce_with_logits(neg, zeros)), w));
  g.backward(loss, 1.0f / static_cast<float>(std::max<std::int64_t>(1, global_positions)));
  return {.examples = positions, .loss = loss.value()};  // the trainer reads the loss with its checks
}

Tensor SasRecModel::last_outputs(const std::vector<std::int32_t>& ids, std::int64_t n) const {
  const Resources& res = *context().resources;
  ag::Graph g(res);
  g.set_training(false);
  const nn::SequenceLayout layout = layout_of(ids, n, 0, 0);
  const Tensor h = encode(g, ids, layout, 0).value().to(Device::cpu(), res.stream());
  res.synchronize();
  Tensor last = Tensor::empty({n, dim_}, DType::kF32);
  for (std::int64_t k = 0; k < n; ++k) {
    std::copy_n(h.data_as<float>() + layout.row(k, max_len_ - 1) * dim_, dim_, last.data_as<float>() + k * dim_);
  }
  return last;
}

bool SasRecModel::embeddings(Tensor& users, Tensor& items) {
  const Resources& res = *context().resources;
  const auto n_users = static_cast<std::int64_t>(sequences_.size());
  users = Tensor::zeros({n_users, dim_}, DType::kF32);
  constexpr std::int64_t kBlock = 256;
  for (std::int64_t begin = 0; begin < n_users; begin += kBlock) {
    const std::int64_t end = std::min(n_users, begin + kBlock), n = end - begin;
    // The whole training sequence and any extra history after it (its latest
    // max_len items), right-aligned.
    std::vector<std::int32_t> ids(static_cast<std::size_t>(n * max_len_), 0);
    std::vector<std::int32_t> joined;  // training items then extra history, only when there is some
    for (std::int64_t k = 0; k < n; ++k) {
      const auto u = static_cast<std::size_t>(begin + k);
      const std::vector<std::int32_t>* history = &sequences_[u];
      if (!extra_history_.empty() && !extra_history_[u].empty()) {
        joined = sequences_[u];
        joined.insert(joined.end(), extra_history_[u].begin(), extra_history_[u].end());
        history = &joined;
      }
      const std::vector<std::int32_t>& seq = *history;
      const std::int64_t len = std::min<std::int64_t>(max_len_, static_cast<std::int64_t>(seq.size()));
      for (std::int64_t p = 0; p < len; ++p) {
        ids[static_cast<std::size_t>(k * max_len_ + max_len_ - len + p)] =
            seq[seq.size() - static_cast<std::size_t>(len - p)] + 1;
      }
    }
    const Tensor last = last_outputs(ids, n);
    std::copy_n(last.data_as<float>(), n * dim_, users.data_as<float>() + begin * dim_);
  }
  const Tensor table = items_->table().value().to(Device::cpu(), res.stream());
  res.synchronize();
  items = table.slice_rows(1, table.size(0)).contiguous();
  return true;
}

bool SasRecModel::fold_in(std::span<const std::int32_t> items, std::span<const float>, std::span<float> user) {
  const std::int64_t num_items = items_->table().value().size(0) - 1;
  RF_CHECK(static_cast<std::int64_t>(user.size()) == dim_, "sasrec fold_in: the output has ", user.size(),
           " values, the model's width is ", dim_);
  if (items.empty()) return false;
  const std::int64_t len = std::min<std::int64_t>(max_len_, static_cast<std::int64_t>(items.size()));
  std::vector<std::int32_t> ids(static_cast<std::size_t>(max_len_), 0);
  for (std::int64_t p = 0; p < len; ++p) {
    const std::int32_t item = items[items.size() - static_cast<std::size_t>(len - p)];
    RF_CHECK(item >= 0 && item < num_items, "sasrec fold_in: item ", item, " outside [0, ", num_items, ")");
    ids[static_cast<std::size_t>(max_len_ - len + p)] = item + 1;
  }
  const Tensor last = last_outputs(ids, 1);
  std::copy_n(last.data_as<float>(), dim_, user.data());
  return true;
}

}  // namespace
}  // namespace recforge::sasrec

RF_REGISTER_MODEL("sasrec", recforge::sasrec::SasRecModel);
