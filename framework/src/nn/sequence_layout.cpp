// Padded and packed row layouts of a batch of sequences.
#include "recforge/nn/sequence_layout.hpp"

#include <algorithm>

namespace recforge::nn {
namespace {

// Each sequence's first position holding an item (length when it holds none).
std::vector<std::int32_t> first_items(const std::vector<std::int32_t>& items, std::int64_t sequences,
                                      std::int64_t length) {
  RF_CHECK(static_cast<std::int64_t>(items.size()) == sequences * length, "SequenceLayout: ", items.size(),
           " item ids for ", sequences, " sequences of ", length, " positions");
  std::vector<std::int32_t> begin(static_cast<std::size_t>(sequences), static_cast<std::int32_t>(length));
  for (std::size_t p = 0; p < items.size(); ++p) {
    std::int32_t& first = begin[p / static_cast<std::size_t>(length)];
    const auto position = static_cast<std::int32_t>(p % static_cast<std::size_t>(length));
    if (items[p] != 0) first = std::min(first, position);
    // Attention masks the keys before `first` only: padding after it would be attended.
    RF_CHECK(items[p] != 0 || first == static_cast<std::int32_t>(length), "SequenceLayout: sequence ",
             p / static_cast<std::size_t>(length), " has padding at position ", position, " after its first item (at ",
             first, "); sequences are left-padded");
  }
  return begin;
}

}  // namespace

SequenceLayout SequenceLayout::padded(std::int64_t sequences, std::int64_t length, std::uint64_t first_sequence) {
  RF_CHECK(sequences >= 0 && length > 0, "SequenceLayout: ", sequences, " sequences of ", length, " positions");
  SequenceLayout l;
  l.sequences_ = sequences;
  l.length_ = length;
  l.rows_ = sequences * length;
  l.first_sequence_ = first_sequence;
  l.first_row_ = first_sequence * static_cast<std::uint64_t>(length);
  return l;
}

SequenceLayout SequenceLayout::padded(const Resources& res, const std::vector<std::int32_t>& items,
                                      std::int64_t sequences, std::int64_t length, std::uint64_t first_sequence) {
  SequenceLayout l = padded(sequences, length, first_sequence);
  l.sequence_begin_ = Tensor::from_vector(first_items(items, sequences, length)).to(res.device(), res.stream());
  return l;
}

SequenceLayout SequenceLayout::packed(const Resources& res, const std::vector<std::int32_t>& items,
                                      std::int64_t sequences, std::int64_t length, std::uint64_t first_sequence,
                                      std::uint64_t first_row) {
  SequenceLayout l = padded(res, items, sequences, length, first_sequence);
  RF_CHECK(sequences * length < (std::int64_t{1} << 31), "SequenceLayout: ", sequences * length,
           " positions exceed 32-bit row indices");
  l.first_row_ = first_row;
  std::int64_t filled = 0;
  for (const std::int32_t item : items) filled += item != 0;
  const auto padding_row = static_cast<std::int32_t>(filled);
  l.rows_ = filled + 1;
  l.host_row_of_position_.resize(items.size());
  l.host_position_of_row_.assign(static_cast<std::size_t>(l.rows_), 0);
  std::int32_t next = 0;
  bool padding_seen = false;
  for (std::size_t p = 0; p < items.size(); ++p) {
    if (items[p] != 0) {
      l.host_position_of_row_[static_cast<std::size_t>(next)] = static_cast<std::int32_t>(p);
      l.host_row_of_position_[p] = next++;
    } else {
      l.host_row_of_position_[p] = padding_row;
      if (!padding_seen) l.host_position_of_row_[static_cast<std::size_t>(padding_row)] = static_cast<std::int32_t>(p);
      padding_seen = true;
    }
  }
  l.row_of_position_ = Tensor::from_vector(l.host_row_of_position_).to(res.device(), res.stream());
  l.position_of_row_ = Tensor::from_vector(l.host_position_of_row_).to(res.device(), res.stream());
  return l;
}

std::int64_t SequenceLayout::row(std::int64_t sequence, std::int64_t position) const {
  RF_CHECK(sequence >= 0 && sequence < sequences_ && position >= 0 && position < length_, "SequenceLayout::row: (",
           sequence, ", ", position, ") outside ", sequences_, " sequences of ", length_, " positions");
  const std::int64_t p = sequence * length_ + position;
  return is_packed() ? host_row_of_position_[static_cast<std::size_t>(p)] : p;
}

}  // namespace recforge::nn
