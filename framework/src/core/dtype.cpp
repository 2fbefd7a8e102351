// DType sizes and names, and the f16/bf16 <-> f32 conversions (round to nearest even).
#include "recforge/core/dtype.hpp"

#include <bit>
#include <cstring>

#include "recforge/core/error.hpp"

namespace recforge {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
    case DType::kI32: return 4;
    case DType::kI64: return 8;
    case DType::kU8: return 1;
  }
  RF_ASSERT(false);
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
    case DType::kI32: return "i32";
    case DType::kI64: return "i64";
    case DType::kU8: return "u8";
  }
  return "?";
}

DType parse_dtype(std::string_view name) {
  if (name == "f32" || name == "float32") return DType::kF32;
  if (name == "f16" || name == "float16") return DType::kF16;
  if (name == "bf16" || name == "bfloat16") return DType::kBF16;
  if (name == "i32" || name == "int32") return DType::kI32;
  if (name == "i64" || name == "int64") return DType::kI64;
  if (name == "u8" || name == "uint8") return DType::kU8;
  RF_THROW(ErrorKind::kInvalidArgument, "unknown dtype '", name, "' (expected f32, f16, bf16, i32, i64 or u8)");
}

Half float_to_half(float value) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t abs = x & 0x7FFFFFFFu;
  if (abs >= 0x47800000u) {  // |value| >= 65536: Inf, or NaN kept quiet
    return Half{static_cast<std::uint16_t>(sign | (abs > 0x7F800000u ? 0x7E00u : 0x7C00u))};
  }
  if (abs < 0x38800000u) {  // subnormal half (or zero)
    // Scale into the subnormal range with one float addition, which rounds to nearest even.
    const float magic = std::bit_cast<float>(0x3F000000u);  // 0.5: aligns bit 0 with 2^-24
    const float f = std::bit_cast<float>(abs) + magic;
    return Half{static_cast<std::uint16_t>(sign | (std::bit_cast<std::uint32_t>(f) - 0x3F000000u))};
  }
  const std::uint32_t mantissa_odd = (abs >> 13) & 1u;
  std::uint32_t rounded = abs + 0xC8000FFFu + mantissa_odd;  // rebias exponent (-112 << 23) and round
  return Half{static_cast<std::uint16_t>(sign | (rounded >> 13))};
}

float half_to_float(Half value) {
  const std::uint32_t sign = static_cast<std::uint32_t>(value.bits & 0x8000u) << 16;
  const std::uint32_t exponent = (value.bits >> 10) & 0x1Fu;
  const std::uint32_t mantissa = value.bits & 0x3FFu;
  if (exponent == 0) {
    const float magnitude = static_cast<float>(mantissa) * (1.0f / 16777216.0f);  // m * 2^-24
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

BFloat16 float_to_bfloat16(float value) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(value);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return BFloat16{static_cast<std::uint16_t>((x >> 16) | 0x40u)};
  const std::uint32_t rounding = 0x7FFFu + ((x >> 16) & 1u);
  return BFloat16{static_cast<std::uint16_t>((x + rounding) >> 16)};
}

float bfloat16_to_float(BFloat16 value) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(value.bits) << 16);
}

}  // namespace recforge
