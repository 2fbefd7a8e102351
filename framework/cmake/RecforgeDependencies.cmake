# Every third-party dependency, found from Debian packages (launch/install-deps.sh).
# Nothing is downloaded at configure or build time.

find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(HDF5 REQUIRED COMPONENTS C HL)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)  # SHA-256 for fingerprints and manifests
find_package(yaml-cpp REQUIRED)          # Debian 0.7: target `yaml-cpp`
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
find_path(RECFORGE_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas x86_64-linux-gnu REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)

# Faiss (HNSW for `recforge serve --ann`) is optional.
set(RECFORGE_WITH_FAISS OFF)
if(NOT RECFORGE_FAISS STREQUAL "OFF")
  if(RECFORGE_FAISS STREQUAL "ON")
    find_package(faiss CONFIG REQUIRED)
  else()
    find_package(faiss CONFIG QUIET)
  endif()
  if(TARGET faiss)
    set(RECFORGE_WITH_FAISS ON)
  endif()
endif()

if(RECFORGE_MPI)
  find_package(MPI REQUIRED COMPONENTS C)
endif()

if(RECFORGE_WITH_CUDA)
  find_package(CUDAToolkit REQUIRED)
  if(RECFORGE_CUDA STREQUAL "ON")
    find_package(NCCL REQUIRED)
  else()
    # AUTO: a toolkit installed without NCCL builds the CPU framework rather
    # than failing to configure (the GPU backend needs NCCL).
    find_package(NCCL)
    if(NOT NCCL_FOUND)
      message(WARNING "nvcc found, but not NCCL (libnccl-dev, or NCCL_ROOT): building without CUDA. "
                      "Install NCCL for the GPU build; RECFORGE_CUDA=ON makes this an error.")
      set(RECFORGE_WITH_CUDA OFF)
    endif()
  endif()
endif()

if(RECFORGE_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(RECFORGE_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()

# One interface target for BLAS so consumers get the header path too.
if(NOT TARGET recforge_blas)
  add_library(recforge_blas INTERFACE)
  target_link_libraries(recforge_blas INTERFACE BLAS::BLAS)
  target_include_directories(recforge_blas SYSTEM INTERFACE ${RECFORGE_CBLAS_INCLUDE_DIR})
endif()
