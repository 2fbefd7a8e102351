// Parameter: a named tensor the trainer synchronises across ranks, checks for
// NaN/Inf, fingerprints, saves, and updates with the optimizer.
//
//   kDense      gradient in grad(), same shape as value(); all-reduced in buckets
//   kEmbedding  a table (rows x D) whose gradient is a set of rows (rows()):
//               only touched rows travel between ranks and get updated
//
// A model fills gradients of (sum of its per-example losses) / (global batch
// size), so after the trainer's SUM across ranks they are the gradient of the
// global mean loss.
#pragma once

#include <map>
#include <string>

#include "recforge/core/tensor.hpp"

namespace recforge {

// Gradient rows of an embedding table: values[k] belongs to row ids[k]. Ids may
// repeat before the trainer coalesces them (sorted, unique, summed).
struct SparseRows {
  Tensor ids;     // (n) i32
  Tensor values;  // (n, D) f32
  std::int64_t size() const { return ids.defined() ? ids.numel() : 0; }
};

class Parameter {
 public:
  enum class Kind { kDense, kEmbedding };

  Parameter(std::string name, Tensor value, Kind kind);

  const std::string& name() const { return name_; }
  Kind kind() const { return kind_; }
  bool is_embedding() const { return kind_ == Kind::kEmbedding; }
  Tensor& value() { return value_; }
  const Tensor& value() const { return value_; }
  // Dense gradient (allocated zeroed on first use, same shape/device as value()),
  // the zeroing ordered on `stream`; without one only a CPU parameter may
  // allocate it (a GPU one must already have it).
  Tensor& grad();
  Tensor& grad(const Stream& stream);
  // Embedding gradient rows.
  SparseRows& rows() { return rows_; }
  // Zeroes the dense gradient / drops the rows; called by the trainer every step.
  void zero_grad(const Stream& stream);
  // Optimizer state slot `key` (momentum, Adam moments): zeros of value's shape on first use.
  Tensor& state(const std::string& key, const Stream& stream);
  std::map<std::string, Tensor>& states() { return state_; }
  const std::map<std::string, Tensor>& states() const { return state_; }

 private:
  std::string name_;
  Tensor value_;
  Kind kind_;
  Tensor grad_;
  SparseRows rows_;
  std::map<std::string, Tensor> state_;
};

}  // namespace recforge
