// How a batch of fixed-length sequences (padding where no item is) is stored
// as rows for the sequence layers (nn::TransformerBlock).
//
//   padded  row s * length + t is position t of sequence s: every padding
//           position is computed, as the papers' code does.
//   packed  only the positions that hold an item, sequence by sequence, then
//           one shared padding row. Padding positions enter every block as
//           zero rows and are zeroed again after it, so they all compute the
//           same values: one row stands for them all. Attention, the only op
//           that mixes positions, reads the padded layout through row gathers
//           (padding keys are masked, as the SASRec paper's code masks
//           them, and a padded query's output is never read, so attention
//           skips those query rows: sequence_begin).
//
// Padding is about half of the positions of MovieLens histories cut to 200,
// so packing halves the row-wise work (projections, FFN, layer norms, dropout).
// Dropout masks are keyed by global row: first_row counts the rows of the
// sequences before this rank's, so 1 rank and N ranks draw the same masks.
#pragma once

#include <cstdint>
#include <vector>

#include "recforge/core/resources.hpp"
#include "recforge/core/tensor.hpp"

namespace recforge::nn {

class SequenceLayout {
 public:
  // Rows are the positions themselves. Without `items` no position is padding;
  // with them ((sequences * length) ids, 0 where a position is padding)
  // sequence_begin() is uploaded to `res`'s device and attention masks the padding.
  static SequenceLayout padded(std::int64_t sequences, std::int64_t length, std::uint64_t first_sequence);
  static SequenceLayout padded(const Resources& res, const std::vector<std::int32_t>& items, std::int64_t sequences,
                               std::int64_t length, std::uint64_t first_sequence);
  // `items`: (sequences * length) ids, 0 where a position is padding. The row
  // indices are uploaded to `res`'s device.
  static SequenceLayout packed(const Resources& res, const std::vector<std::int32_t>& items, std::int64_t sequences,
                               std::int64_t length, std::uint64_t first_sequence, std::uint64_t first_row);

  bool is_packed() const { return row_of_position_.defined(); }
  std::int64_t sequences() const { return sequences_; }
  std::int64_t length() const { return length_; }
  std::int64_t rows() const { return rows_; }
  // Global index of this batch's first sequence (attention dropout) and first row (row-wise dropout).
  std::uint64_t first_sequence() const { return first_sequence_; }
  std::uint64_t first_row() const { return first_row_; }
  // Packed only: (sequences * length) i32, the row of each position; and
  // (rows) i32, the position each row holds (the padding row: a padding
  // position, or position 0 when there is none: that row's output is never read).
  const Tensor& row_of_position() const { return row_of_position_; }
  const Tensor& position_of_row() const { return position_of_row_; }
  // (sequences) i32, each sequence's first position holding an item
  // (sequences are left-padded; length when it holds none); empty when the
  // layout knows no padding. Attention masks the keys before it and skips the
  // query rows before it, whose outputs are never read.
  const Tensor& sequence_begin() const { return sequence_begin_; }
  // The row holding position t of sequence s.
  std::int64_t row(std::int64_t sequence, std::int64_t position) const;
  // Per-position values (sequences * length) in row order; the padding row gets `padding`.
  template <typename T>
  std::vector<T> to_rows(const std::vector<T>& per_position, T padding) const;

 private:
  std::int64_t sequences_ = 0, length_ = 0, rows_ = 0;
  std::uint64_t first_sequence_ = 0, first_row_ = 0;
  Tensor row_of_position_, position_of_row_, sequence_begin_;
  std::vector<std::int32_t> host_row_of_position_, host_position_of_row_;
};

template <typename T>
std::vector<T> SequenceLayout::to_rows(const std::vector<T>& per_position, T padding) const {
  RF_CHECK(static_cast<std::int64_t>(per_position.size()) == sequences_ * length_, "SequenceLayout::to_rows: ",
           per_position.size(), " values for ", sequences_, " sequences of ", length_, " positions");
  if (!is_packed()) return per_position;
  std::vector<T> out(static_cast<std::size_t>(rows_), padding);
  for (std::int64_t r = 0; r + 1 < rows_; ++r) {
    out[static_cast<std::size_t>(r)] = per_position[static_cast<std::size_t>(host_position_of_row_[static_cast<std::size_t>(r)])];
  }
  return out;
}

}  // namespace recforge::nn
