#pragma once
// When an elementwise or row-copy CPU kernel hands its loop to the OpenMP threads.
#include <cstdint>

namespace recforge::kernels {

// Loops go to OpenMP threads only above this many elements (half a MiB of
// floats): below it waking the pool costs more than the op (NCF's 1,280 x 32
// activations stay on one thread); above it a lone thread leaves the others
// spinning (a SASRec batch tail of 98 x 200 x 50 is 2^20 - 4%).
inline constexpr std::int64_t kParallelElements = std::int64_t{1} << 17;

}  // namespace recforge::kernels
