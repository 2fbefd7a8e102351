// Random fills from Philox streams: identical values on the CPU and on CUDA for
// the same (seed, stream), element by element (see recforge/core/philox.hpp).
//   defines: fill_uniform, fill_normal
#pragma once

#include <cstdint>

#include "recforge/core/resources.hpp"
#include "recforge/core/tensor_view.hpp"
#include "recforge/registry/kernel_registry.hpp"

namespace recforge::kernels {

// out (any shape, contiguous, f32): out[i] = low + (high - low) * U(seed, stream, i), U in [0, 1).
using FillUniformFn = void(const Resources&, TensorView out, float low, float high, std::uint64_t seed,
                           std::uint64_t stream);
RF_DECLARE_OP(fill_uniform, FillUniformFn);

// out (any shape, contiguous, f32): normal(mean, stddev) by Box-Muller on uniform words
// 2p and 2p+1 of the stream for the pair p = i / 2 (even i: cos branch, odd i: sin branch).
using FillNormalFn = void(const Resources&, TensorView out, float mean, float stddev, std::uint64_t seed,
                          std::uint64_t stream);
RF_DECLARE_OP(fill_normal, FillNormalFn);

inline void check_fill_target(const char* op, const Resources& res, const TensorView& out) {
  check_dtype(op, out, DType::kF32);
  check_contiguous(op, out);
  RF_CHECK(out.device == res.device(), op, ": tensor on ", out.device.str(), " but resources on ",
           res.device().str());
}

/// Fills `out` with uniform values in [low, high).
/// @param[in] res   device and stream to run on (must match out.device)
/// @param[out] out  contiguous f32 tensor
/// @code
///   fill_uniform(Resources::cpu(), weights, -0.1f, 0.1f, seed, rng_stream(RngPurpose::kInit, 0));
/// @endcode
inline void fill_uniform(const Resources& res, TensorView out, float low, float high, std::uint64_t seed,
                         std::uint64_t stream) {
  check_fill_target("fill_uniform", res, out);
  RF_CHECK(low <= high, "fill_uniform: low (", low, ") > high (", high, ")");
  dispatch<fill_uniform_op>(out.device)(res, out, low, high, seed, stream);
}

/// Fills `out` with normal values N(mean, stddev^2).
inline void fill_normal(const Resources& res, TensorView out, float mean, float stddev, std::uint64_t seed,
                        std::uint64_t stream) {
  check_fill_target("fill_normal", res, out);
  RF_CHECK(stddev >= 0, "fill_normal: stddev must be >= 0, got ", stddev);
  dispatch<fill_normal_op>(out.device)(res, out, mean, stddev, seed, stream);
}

}  // namespace recforge::kernels
