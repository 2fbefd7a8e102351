// UTF-8 validation for text from outside (ids in data files, config files).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace recforge {

// The offset of the first byte that does not start a valid UTF-8 sequence (no
// overlongs, no surrogates, nothing past U+10FFFF, nothing cut off), or npos.
inline std::size_t first_invalid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra = 0;
    std::uint32_t code = 0;
    if ((c & 0xE0) == 0xC0) { extra = 1; code = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { extra = 2; code = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { extra = 3; code = c & 0x07; }
    else return i;
    if (i + static_cast<std::size_t>(extra) >= text.size()) return i;  // truncated sequence
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + static_cast<std::size_t>(k)]);
      if ((cc & 0xC0) != 0x80) return i;
      code = (code << 6) | (cc & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMin[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return i;
    i += static_cast<std::size_t>(extra) + 1;
  }
  return std::string_view::npos;
}

inline bool valid_utf8(std::string_view text) { return first_invalid_utf8(text) == std::string_view::npos; }

// The text after a leading UTF-8 byte order mark (spreadsheets write one), if any.
inline std::string_view without_utf8_bom(std::string_view text) {
  return text.starts_with("\xEF\xBB\xBF") ? text.substr(3) : text;
}

}  // namespace recforge
