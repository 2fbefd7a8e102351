// Element types a Tensor can hold, their sizes and names, and the 16-bit float
// storage types (converted to and from float on the CPU; arithmetic is in f32).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "recforge/core/host_device.hpp"

namespace recforge {

enum class DType : std::uint8_t { kF32, kF16, kBF16, kI32, kI64, kU8 };

std::size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);
// Parses "f32", "float32", "f16", "bf16", "i32", "i64", "u8"; throws on anything else.
DType parse_dtype(std::string_view name);

// IEEE binary16, storage only.
struct Half {
  std::uint16_t bits = 0;
};
// bfloat16 (the top 16 bits of an f32), storage only.
struct BFloat16 {
  std::uint16_t bits = 0;
};

// Round-to-nearest-even conversions; NaN stays NaN, overflow goes to Inf.
Half float_to_half(float value);
float half_to_float(Half value);
BFloat16 float_to_bfloat16(float value);
float bfloat16_to_float(BFloat16 value);

template <class T>
struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::kF32; };
template <> struct DTypeOf<Half> { static constexpr DType value = DType::kF16; };
template <> struct DTypeOf<BFloat16> { static constexpr DType value = DType::kBF16; };
template <> struct DTypeOf<std::int32_t> { static constexpr DType value = DType::kI32; };
template <> struct DTypeOf<std::int64_t> { static constexpr DType value = DType::kI64; };
template <> struct DTypeOf<std::uint8_t> { static constexpr DType value = DType::kU8; };

template <class T>
inline constexpr DType dtype_of = DTypeOf<T>::value;

}  // namespace recforge
