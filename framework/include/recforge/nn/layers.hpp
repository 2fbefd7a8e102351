// Layers over the autograd: each owns its Parameters (initialised the same way
// on every rank from the run seed) and records its forward pass in a Graph.
// Plugin authors compose them and write only the forward pass:
//
//   nn::Embedding users("ncf.gmf.users", num_users, 32, init);
//   nn::Mlp tower("ncf.mlp", {64, 32, 16, 8}, kernels::Activation::kRelu, 0.0f, init);
//   ag::Var h = tower.forward(g, users.forward(g, ids), dropout_key);
//
// Initialisation follows PyTorch's defaults where a peer comparison needs it:
// Linear weights and biases U(-1/sqrt(in), 1/sqrt(in)); Embedding N(0, std).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "recforge/autograd/ops.hpp"
#include "recforge/core/resources.hpp"
#include "recforge/model/parameter.hpp"
#include "recforge/nn/sequence_layout.hpp"

namespace recforge::nn {

// Where a layer's initial values come from: Philox keyed by (seed, stream);
// `stream` counts up as layers draw, so construction order fixes the values.
struct Init {
  const Resources* resources = nullptr;
  std::uint64_t seed = 0;
  std::uint32_t next_stream = 0;
};

class Module {
 public:
  virtual ~Module() = default;
  std::vector<Parameter*> parameters() const;

 protected:
  Parameter& add(std::unique_ptr<Parameter> p);
  void add_children(const Module& child);

 private:
  std::vector<std::unique_ptr<Parameter>> owned_;
  std::vector<Parameter*> all_;
};

class Embedding : public Module {
 public:
  Embedding(const std::string& name, std::int64_t rows, std::int64_t dim, float init_std, Init& init);
  // Rows `ids` (i32 on the layer's device): (n, dim); the gradient is sparse rows.
  ag::Var forward(ag::Graph& g, const Tensor& ids) const { return g.embedding(*table_, ids); }
  Parameter& table() const { return *table_; }

 private:
  Parameter* table_;
};

// Bags of rows averaged per example (PyTorch's EmbeddingBag, mode "mean"), e.g.
// a film's genres: `bags` holds row r's members with weights 1/|bag r|. The
// table is a dense parameter (a small vocabulary); its gradient is the
// transposed product.
struct Bags {
  ag::SparseMatrix matrix, transposed;  // (examples, vocabulary) and its transpose
};
// CSR pattern (offsets: examples + 1, columns < vocabulary) -> mean weights on the device.
Bags mean_bags(const Resources& res, std::span<const std::int64_t> offsets, std::span<const std::int32_t> columns,
               std::int64_t vocabulary);

class EmbeddingBag : public Module {
 public:
  EmbeddingBag(const std::string& name, std::int64_t rows, std::int64_t dim, float init_std, Init& init);
  // (examples, dim); an empty bag gives a zero row.
  ag::Var forward(ag::Graph& g, const Bags& bags) const;
  Parameter& table() const { return *table_; }

 private:
  Parameter* table_;
};

class Linear : public Module {
 public:
  Linear(const std::string& name, std::int64_t in, std::int64_t out, bool bias, Init& init);
  ag::Var forward(ag::Graph& g, const ag::Var& x) const;
  std::int64_t in() const { return in_; }
  std::int64_t out() const { return out_; }

 private:
  std::int64_t in_, out_;
  Parameter* weight_;  // (in, out)
  Parameter* bias_ = nullptr;
};

// Linear layers with an activation (and dropout) between them: dims = {in, h1, ..., out}.
class Mlp : public Module {
 public:
  Mlp(const std::string& name, const std::vector<std::int64_t>& dims, kernels::Activation activation, float dropout,
      bool activate_last, Init& init);
  // `key` seeds the dropout masks of this step (layer k uses stream key.stream + k);
  // key.offset is the index of the first row in the global batch, so a row's
  // masks are the same whichever rank computes it.
  ag::Var forward(ag::Graph& g, ag::Var x, const kernels::DropoutKey& key = {}) const;
  std::int64_t out() const { return layers_.back()->out(); }

 private:
  std::vector<std::unique_ptr<Linear>> layers_;
  kernels::Activation activation_;
  float dropout_;
  bool activate_last_;
};

class LayerNorm : public Module {
 public:
  LayerNorm(const std::string& name, std::int64_t dim, const Resources& resources, float eps = 1e-5f);
  ag::Var forward(ag::Graph& g, const ag::Var& x) const;

 private:
  Parameter* gamma_;
  Parameter* beta_;
  float eps_;
};

// Which implementation computes the attention: the fused kernel (default) or
// the composition of ops that is its reference (any L and head width on CUDA).
enum class AttentionKernel { kFused, kComposed };

// Causal multi-head self-attention over sequences stored as rows in `layout`:
// q, k, v projections (biases on q and v), scaled dot-product attention, output projection.
class MultiHeadAttention : public Module {
 public:
  MultiHeadAttention(const std::string& name, std::int64_t dim, std::int64_t heads, float dropout, Init& init,
                     AttentionKernel kernel = AttentionKernel::kFused);
  // `queries` and `keys` (the same rows for self-attention): (layout.rows(), dim).
  // `key` gives the dropout seed and stream; the layout places the masks.
  ag::Var forward(ag::Graph& g, const ag::Var& queries, const ag::Var& keys, const SequenceLayout& layout,
                  const kernels::DropoutKey& key = {}) const;

 private:
  std::int64_t heads_;
  float dropout_;
  AttentionKernel kernel_;
  std::unique_ptr<Linear> q_, k_, v_, out_;
};

// A pre-norm Transformer block as SASRec uses it:
//   h = x + Attention(LayerNorm(x) as queries, x as keys and values)
//   y = h + FFN(LayerNorm(h)),  FFN = Linear -> activation -> dropout -> Linear -> dropout
class TransformerBlock : public Module {
 public:
  TransformerBlock(const std::string& name, std::int64_t dim, std::int64_t heads, float dropout,
                   kernels::Activation activation, Init& init, AttentionKernel kernel = AttentionKernel::kFused);
  // x: (layout.rows(), dim), zero on padding rows. `key` gives the dropout
  // seed and stream; the layout's first sequence and row place the masks, so
  // they are the same on 1 rank and on N ranks.
  ag::Var forward(ag::Graph& g, const ag::Var& x, const SequenceLayout& layout,
                  const kernels::DropoutKey& key = {}) const;

 private:
  std::unique_ptr<LayerNorm> attention_norm_, ffn_norm_;
  std::unique_ptr<MultiHeadAttention> attention_;
  std::unique_ptr<Mlp> ffn_;
  float dropout_;
};

}  // namespace recforge::nn
