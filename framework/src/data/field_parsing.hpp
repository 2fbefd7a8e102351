// Strict parsing of one field of a ratings line. Each parser returns a status
// so the caller can report the exact reason with file:line:column.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "recforge/core/utf8.hpp"

namespace recforge::data::detail {

// A quoted field whose opening quote is line[pos]: its text with "" unescaped
// into `value`; returns the index just past the closing quote, or npos when the
// quote is never closed.
inline std::size_t unquote_field(std::string_view line, std::size_t pos, std::string& value) {
  value.clear();
  for (std::size_t i = pos + 1; i < line.size();) {
    if (line[i] != '"') {
      value += line[i++];
    } else if (i + 1 < line.size() && line[i + 1] == '"') {
      value += '"';
      i += 2;
    } else {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

enum class FieldStatus { kOk, kEmpty, kNotANumber, kNegative, kOverflow, kNotFinite };

// Non-negative decimal integer (an optional leading '+' is accepted).
inline FieldStatus parse_id(std::string_view text, std::int64_t& out) {
  if (text.empty()) return FieldStatus::kEmpty;
  std::size_t i = 0;
  if (text[0] == '+') i = 1;
  else if (text[0] == '-') return text.size() > 1 ? FieldStatus::kNegative : FieldStatus::kNotANumber;
  if (i == text.size()) return FieldStatus::kNotANumber;
  std::uint64_t value = 0;
  for (; i < text.size(); ++i) {
    const unsigned digit = static_cast<unsigned char>(text[i]) - '0';
    if (digit > 9) return FieldStatus::kNotANumber;
    if (value > (static_cast<std::uint64_t>(INT64_MAX) - digit) / 10) return FieldStatus::kOverflow;
    value = value * 10 + digit;
  }
  out = static_cast<std::int64_t>(value);
  return FieldStatus::kOk;
}

// A finite decimal number. The common "4", "3.5", "4.0" forms take a fast path
// that gives exactly the double from_chars would give.
inline FieldStatus parse_number(std::string_view text, double& out) {
  if (text.empty()) return FieldStatus::kEmpty;
  // Fast path: up to 9 integer digits, '.', up to 6 decimals.
  std::size_t i = 0;
  std::uint64_t int_part = 0, frac_part = 0;
  int int_digits = 0, frac_digits = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9' && int_digits < 9) {
    int_part = int_part * 10 + static_cast<unsigned>(text[i++] - '0');
    ++int_digits;
  }
  if (int_digits > 0) {
    if (i == text.size()) {
      out = static_cast<double>(int_part);
      return FieldStatus::kOk;
    }
    if (text[i] == '.') {
      ++i;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9' && frac_digits < 6) {
        frac_part = frac_part * 10 + static_cast<unsigned>(text[i++] - '0');
        ++frac_digits;
      }
      if (i == text.size()) {
        static constexpr double kPow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
        // int_part * 10^f + frac_part is exact in a double; one division rounds correctly.
        out = static_cast<double>(int_part * static_cast<std::uint64_t>(kPow10[frac_digits]) + frac_part) /
              kPow10[frac_digits];
        return FieldStatus::kOk;
      }
    }
  }
  const char* first = text.data();
  const char* last = first + text.size();
  if (*first == '+') ++first;
  double value = 0;
  auto [end, ec] = std::from_chars(first, last, value);
  if (ec == std::errc::result_out_of_range) return FieldStatus::kNotFinite;
  if (ec != std::errc() || end != last) return FieldStatus::kNotANumber;
  if (!std::isfinite(value)) return FieldStatus::kNotFinite;
  out = value;
  return FieldStatus::kOk;
}

// Signed 64-bit integer for timestamps (negative values are reported by the caller).
inline FieldStatus parse_timestamp(std::string_view text, std::int64_t& out) {
  if (text.empty()) return FieldStatus::kEmpty;
  if (text[0] == '-') {
    std::int64_t magnitude = 0;
    const FieldStatus status = parse_id(text.substr(1), magnitude);
    return status == FieldStatus::kOk ? FieldStatus::kNegative : status;
  }
  return parse_id(text, out);
}

using recforge::valid_utf8;  // core/utf8.hpp

}  // namespace recforge::data::detail
