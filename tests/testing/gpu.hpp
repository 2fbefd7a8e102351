// Skips a test cleanly when no CUDA device is usable (the reason is printed).
#pragma once

#include <gtest/gtest.h>

#include "recforge/core/cuda_runtime.hpp"

#define RF_SKIP_WITHOUT_GPU()                                                                       \
  do {                                                                                              \
    if (::recforge::cuda::device_count() == 0) {                                                    \
      GTEST_SKIP() << "no CUDA device: "                                                            \
                   << (::recforge::cuda::compiled_with_cuda() ? "none visible to the CUDA runtime"  \
                                                               : "built without CUDA");             \
    }                                                                                               \
  } while (0)
