# Language standards, ccache, and the CUDA on/off decision.
# Warnings are applied per target through recforge_warnings (no global flag soup).

set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

find_program(RECFORGE_CCACHE ccache)
if(RECFORGE_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${RECFORGE_CCACHE})
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${RECFORGE_CCACHE})
endif()

set(RECFORGE_WITH_CUDA OFF)
if(NOT RECFORGE_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    include(RecforgeCudaDialect)
    set(RECFORGE_WITH_CUDA ON)
  elseif(RECFORGE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "RECFORGE_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()

# Sanitizers (CMakePresets.json: asan-ubsan, tsan) instrument every C/C++
# target, tests included, so they are set for the whole build here rather than
# per target; the CUDA kernels stay out (nvcc does not take -fsanitize).
set(RECFORGE_SANITIZE "" CACHE STRING "Sanitizers for the CPU code: address,undefined | thread | empty (none)")
# A fuzz build (launch/fuzz.sh) is an ASan + UBSan build whose code also carries
# libFuzzer's coverage hooks, so the fuzzers (tests/fuzz) can link the library.
if(RECFORGE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "RECFORGE_FUZZ=ON needs clang (CC=clang CXX=clang++)")
  endif()
  if(NOT RECFORGE_SANITIZE)
    set(RECFORGE_SANITIZE "address,undefined")
  endif()
  add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=fuzzer-no-link>)
endif()
if(RECFORGE_SANITIZE)
  if(RECFORGE_WITH_CUDA)
    message(FATAL_ERROR "RECFORGE_SANITIZE=${RECFORGE_SANITIZE} needs RECFORGE_CUDA=OFF (the sanitizers cover the CPU paths)")
  endif()
  add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=${RECFORGE_SANITIZE}>
                      $<$<COMPILE_LANGUAGE:C,CXX>:-fno-omit-frame-pointer>
                      $<$<COMPILE_LANGUAGE:C,CXX>:-fno-sanitize-recover=all>)
  add_link_options(-fsanitize=${RECFORGE_SANITIZE})
endif()

# CPU code generation for kernels: -march=${RECFORGE_CPU_ARCH} on C++ sources of
# the library and in-tree plugins (a binary built with `native` runs on CPUs
# like the build machine; set x86-64-v3 or empty for portable builds).
function(recforge_cpu_tuning target)
  if(RECFORGE_CPU_ARCH)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-march=${RECFORGE_CPU_ARCH}>)
  endif()
endfunction()

# Per-target warnings; CUDA sources get the host-compiler warnings through -Xcompiler.
function(recforge_warnings target)
  target_compile_options(${target} PRIVATE
    # -Wmissing-field-initializers fires on designated initializers that omit
    # defaulted members on purpose; -Wrestrict has false positives in GCC 12's
    # std::string (GCC PR 105329).
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
                              $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>>
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall --expt-relaxed-constexpr -diag-suppress=1675>)
endfunction()
