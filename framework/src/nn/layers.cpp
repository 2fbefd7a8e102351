// Layers: parameter creation and forward passes.
#include "recforge/nn/layers.hpp"

#include <cmath>

#include "recforge/core/philox.hpp"
#include "recforge/kernels/random.hpp"

namespace recforge::nn {
namespace {

Tensor fresh(const Resources& res, const Shape& shape) {
  return Tensor::empty(shape, DType::kF32, res.device(), res.stream());
}

std::uint64_t take_stream(Init& init) { return rng_stream(RngPurpose::kInit, init.next_stream++); }

void fill_constant(const Resources& res, Tensor& t, float value) {
  Tensor host = Tensor::from_vector(std::vector<float>(static_cast<std::size_t>(t.numel()), value), t.shape());
  t.copy_from(host.to(t.device(), res.stream()), res.stream());
}

}  // namespace

std::vector<Parameter*> Module::parameters() const { return all_; }

Parameter& Module::add(std::unique_ptr<Parameter> p) {
  all_.push_back(p.get());
  owned_.push_back(std::move(p));
  return *all_.back();
}

void Module::add_children(const Module& child) {
  for (Parameter* p : child.parameters()) all_.push_back(p);
}

Embedding::Embedding(const std::string& name, std::int64_t rows, std::int64_t dim, float init_std, Init& init) {
  RF_CHECK(init.resources != nullptr, "nn::Embedding '", name, "': Init has no resources");
  Tensor t = fresh(*init.resources, {rows, dim});
  kernels::fill_normal(*init.resources, t, 0.0f, init_std, init.seed, take_stream(init));
  table_ = &add(std::make_unique<Parameter>(name, t, Parameter::Kind::kEmbedding));
}

Bags mean_bags(const Resources& res, std::span<const std::int64_t> offsets, std::span<const std::int32_t> columns,
               std::int64_t vocabulary) {
  RF_CHECK(!offsets.empty() && offsets.back() == static_cast<std::int64_t>(columns.size()),
           "nn::mean_bags: offsets do not end at the number of columns");
  const auto examples = static_cast<std::int64_t>(offsets.size()) - 1;
  std::vector<float> weights(columns.size());
  std::vector<std::int64_t> t_offsets(static_cast<std::size_t>(vocabulary) + 1, 0);
  for (std::int64_t e = 0; e < examples; ++e) {
    const std::int64_t begin = offsets[static_cast<std::size_t>(e)], end = offsets[static_cast<std::size_t>(e) + 1];
    for (std::int64_t k = begin; k < end; ++k) {
      const std::int32_t c = columns[static_cast<std::size_t>(k)];
      RF_CHECK(c >= 0 && c < vocabulary, "nn::mean_bags: column ", c, " outside a vocabulary of ", vocabulary);
      weights[static_cast<std::size_t>(k)] = 1.0f / static_cast<float>(end - begin);
      ++t_offsets[static_cast<std::size_t>(c) + 1];
    }
  }
  for (std::size_t c = 0; c < static_cast<std::size_t>(vocabulary); ++c) t_offsets[c + 1] += t_offsets[c];
  // The transpose by counting sort: examples stay in increasing order per column.
  std::vector<std::int32_t> t_columns(columns.size());
  std::vector<float> t_weights(columns.size());
  std::vector<std::int64_t> next(t_offsets.begin(), t_offsets.end() - 1);
  for (std::int64_t e = 0; e < examples; ++e) {
    for (std::int64_t k = offsets[static_cast<std::size_t>(e)]; k < offsets[static_cast<std::size_t>(e) + 1]; ++k) {
      const auto at = static_cast<std::size_t>(next[static_cast<std::size_t>(columns[static_cast<std::size_t>(k)])]++);
      t_columns[at] = static_cast<std::int32_t>(e);
      t_weights[at] = weights[static_cast<std::size_t>(k)];
    }
  }
  const auto upload = [&](std::vector<std::int64_t> o, std::vector<std::int32_t> c, std::vector<float> w,
                          std::int64_t rows, std::int64_t cols) {
    ag::SparseMatrix m;
    m.offsets = Tensor::from_vector(o).to(res.device(), res.stream());
    m.columns = Tensor::from_vector(c).to(res.device(), res.stream());
    m.values = Tensor::from_vector(w).to(res.device(), res.stream());
    m.rows = rows;
    m.cols = cols;
    return m;
  };
  return {upload({offsets.begin(), offsets.end()}, {columns.begin(), columns.end()}, std::move(weights), examples,
                 vocabulary),
          upload(std::move(t_offsets), std::move(t_columns), std::move(t_weights), vocabulary, examples)};
}

EmbeddingBag::EmbeddingBag(const std::string& name, std::int64_t rows, std::int64_t dim, float init_std, Init& init) {
  RF_CHECK(init.resources != nullptr, "nn::EmbeddingBag '", name, "': Init has no resources");
  Tensor t = fresh(*init.resources, {rows, dim});
  kernels::fill_normal(*init.resources, t, 0.0f, init_std, init.seed, take_stream(init));
  table_ = &add(std::make_unique<Parameter>(name, t, Parameter::Kind::kDense));
}

ag::Var EmbeddingBag::forward(ag::Graph& g, const Bags& bags) const {
  return ag::spmm(bags.matrix, bags.transposed, g.parameter(*table_));
}

Linear::Linear(const std::string& name, std::int64_t in, std::int64_t out, bool bias, Init& init) : in_(in), out_(out) {
  RF_CHECK(init.resources != nullptr, "nn::Linear '", name, "': Init has no resources");
  RF_CHECK(in > 0 && out > 0, "nn::Linear '", name, "': sizes ", in, " x ", out);
  const Resources& res = *init.resources;
  const float bound = 1.0f / std::sqrt(static_cast<float>(in));
  Tensor w = fresh(res, {in, out});
  kernels::fill_uniform(res, w, -bound, bound, init.seed, take_stream(init));
  weight_ = &add(std::make_unique<Parameter>(name + ".weight", w, Parameter::Kind::kDense));
  if (bias) {
    Tensor b = fresh(res, {out});
    kernels::fill_uniform(res, b, -bound, bound, init.seed, take_stream(init));
    bias_ = &add(std::make_unique<Parameter>(name + ".bias", b, Parameter::Kind::kDense));
  }
}

ag::Var Linear::forward(ag::Graph& g, const ag::Var& x) const {
  return ag::linear(x, g.parameter(*weight_), bias_ ? g.parameter(*bias_) : ag::Var());
}

Mlp::Mlp(const std::string& name, const std::vector<std::int64_t>& dims, kernels::Activation activation, float dropout,
         bool activate_last, Init& init)
    : activation_(activation), dropout_(dropout), activate_last_(activate_last) {
  RF_CHECK(dims.size() >= 2, "nn::Mlp '", name, "' needs at least an input and an output size");
  for (std::size_t k = 0; k + 1 < dims.size(); ++k) {
    layers_.push_back(std::make_unique<Linear>(name + "." + std::to_string(k), dims[k], dims[k + 1], true, init));
    add_children(*layers_.back());
  }
}

ag::Var Mlp::forward(ag::Graph& g, ag::Var x, const kernels::DropoutKey& key) const {
  for (std::size_t k = 0; k < layers_.size(); ++k) {
    x = layers_[k]->forward(g, x);
    if (k + 1 < layers_.size() || activate_last_) {
      x = ag::activation(x, activation_);
      // key.offset counts rows: each layer's masks start that many rows in.
      x = ag::dropout(x, dropout_, {key.seed, key.stream + k, key.offset * static_cast<std::uint64_t>(x.size(1))});
    }
  }
  return x;
}

LayerNorm::LayerNorm(const std::string& name, std::int64_t dim, const Resources& resources, float eps) : eps_(eps) {
  Tensor gamma = fresh(resources, {dim}), beta = fresh(resources, {dim});
  fill_constant(resources, gamma, 1.0f);
  fill_constant(resources, beta, 0.0f);
  gamma_ = &add(std::make_unique<Parameter>(name + ".gamma", gamma, Parameter::Kind::kDense));
  beta_ = &add(std::make_unique<Parameter>(name + ".beta", beta, Parameter::Kind::kDense));
}

ag::Var LayerNorm::forward(ag::Graph& g, const ag::Var& x) const {
  return ag::layer_norm(x, g.parameter(*gamma_), g.parameter(*beta_), eps_);
}

MultiHeadAttention::MultiHeadAttention(const std::string& name, std::int64_t dim, std::int64_t heads, float dropout,
                                       Init& init, AttentionKernel kernel)
    : heads_(heads), dropout_(dropout), kernel_(kernel) {
  RF_CHECK(heads > 0 && dim % heads == 0, "nn::MultiHeadAttention '", name, "': ", dim, " columns do not split into ",
           heads, " heads");
  q_ = std::make_unique<Linear>(name + ".q", dim, dim, true, init);
  // No key bias: q_i . b is the same for every key j and cancels in the
  // softmax, so its gradient is exactly zero and Adam would only turn the
  // rounding noise of that zero into steps.
  k_ = std::make_unique<Linear>(name + ".k", dim, dim, false, init);
  v_ = std::make_unique<Linear>(name + ".v", dim, dim, true, init);
  out_ = std::make_unique<Linear>(name + ".out", dim, dim, true, init);
  for (const auto* m : {q_.get(), k_.get(), v_.get(), out_.get()}) add_children(*m);
}

ag::Var MultiHeadAttention::forward(ag::Graph& g, const ag::Var& queries, const ag::Var& keys,
                                    const SequenceLayout& layout, const kernels::DropoutKey& key) const {
  const auto attention =
      kernel_ == AttentionKernel::kFused ? &ag::causal_self_attention : &ag::causal_self_attention_composed;
  // Attention mixes positions, so it reads the padded layout: packed rows are
  // gathered out to positions and the outputs gathered back to rows.
  const auto positions = [&](const ag::Var& rows) {
    return layout.is_packed() ? ag::gather_rows(rows, layout.row_of_position()) : rows;
  };
  const auto l = static_cast<std::uint64_t>(layout.length());
  ag::Var attended =
      attention(positions(q_->forward(g, queries)), positions(k_->forward(g, keys)), positions(v_->forward(g, keys)),
                layout.sequences(), heads_, dropout_, {key.seed, key.stream, layout.first_sequence() * l * l},
                layout.sequence_begin());
  if (layout.is_packed()) attended = ag::gather_rows(attended, layout.position_of_row());
  return out_->forward(g, attended);
}

TransformerBlock::TransformerBlock(const std::string& name, std::int64_t dim, std::int64_t heads, float dropout,
                                   kernels::Activation activation, Init& init, AttentionKernel kernel)
    : dropout_(dropout) {
  attention_norm_ = std::make_unique<LayerNorm>(name + ".attention_norm", dim, *init.resources, 1e-8f);
  attention_ = std::make_unique<MultiHeadAttention>(name + ".attention", dim, heads, dropout, init, kernel);
  ffn_norm_ = std::make_unique<LayerNorm>(name + ".ffn_norm", dim, *init.resources, 1e-8f);
  ffn_ = std::make_unique<Mlp>(name + ".ffn", std::vector<std::int64_t>{dim, dim, dim}, activation, dropout, false, init);
  add_children(*attention_norm_);
  add_children(*attention_);
  add_children(*ffn_norm_);
  add_children(*ffn_);
}

ag::Var TransformerBlock::forward(ag::Graph& g, const ag::Var& x, const SequenceLayout& layout,
                                  const kernels::DropoutKey& key) const {
  if (layout.sequences() == 0) return x;  // a rank without sequences in this batch
  RF_CHECK(x.size(0) == layout.rows(), "nn::TransformerBlock: ", x.size(0), " rows for a layout of ", layout.rows());
  const std::int64_t d = x.size(1);
  const ag::Var h = ag::add(x, attention_->forward(g, attention_norm_->forward(g, x), x, layout, key));
  // Streams: heads use stream + h (h < 64 by the schemas), the FFN 64 and 65 above.
  const std::uint64_t first_row = layout.first_row();
  const kernels::DropoutKey ffn_key{key.seed, key.stream + 64, first_row};
  const ag::Var f = ag::dropout(ffn_->forward(g, ffn_norm_->forward(g, h), ffn_key), dropout_,
                                {key.seed, key.stream + 65, first_row * static_cast<std::uint64_t>(d)});
  return ag::add(h, f);
}

}  // namespace recforge::nn
