// H5File's reading of declared sizes: a file names its arrays' shapes, and a
// crafted one must not make a reader allocate a wrapped-around size.
#include <gtest/gtest.h>

#include <hdf5.h>

#include "io/hdf5_file.hpp"
#include "testing/error_testing.hpp"
#include "testing/temp_dir.hpp"

namespace recforge::io {
namespace {

// A u8 dataset of the given shape, never written (chunked: HDF5 allocates
// chunks as they are written, so the file stays small whatever the shape says).
void write_declared_shape(const std::string& path, std::vector<hsize_t> dims) {
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  ASSERT_GE(space, 0);
  const hid_t layout = H5Pcreate(H5P_DATASET_CREATE);
  const std::vector<hsize_t> chunk(dims.size(), 1);
  ASSERT_GE(H5Pset_chunk(layout, static_cast<int>(chunk.size()), chunk.data()), 0);
  const hid_t dataset = H5Dcreate2(file, "/x", H5T_NATIVE_UINT8, space, H5P_DEFAULT, layout, H5P_DEFAULT);
  ASSERT_GE(dataset, 0);
  H5Dclose(dataset);
  H5Pclose(layout);
  H5Sclose(space);
  H5Fclose(file);
}

TEST(H5File, ArrayInfoReadsTheDeclaredShape) {
  recforge::testing::TempDir dir;
  write_declared_shape(dir.file("a.h5"), {3, 5});
  const ArrayInfo info = H5File::open_read(dir.file("a.h5")).array_info("/x");
  EXPECT_EQ(info.dims, (std::vector<std::int64_t>{3, 5}));
  EXPECT_EQ(info.elements(), 15);
}

// Each dimension below 2^62, their product not: (4, 2^61) is 2^63 elements,
// (8, 2^61) wraps an int64 product to 0 (which passed every size check after).
TEST(H5File, ArrayInfoRefusesAShapeWhoseProductOverflows) {
  recforge::testing::TempDir dir;
  for (const hsize_t rows : {4, 8}) {
    write_declared_shape(dir.file("big.h5"), {rows, hsize_t{1} << 61});
    RF_EXPECT_ERROR(H5File::open_read(dir.file("big.h5")).array_info("/x"), ErrorKind::kHdf5,
                    "dataset /x declares an impossible size");
  }
}

}  // namespace
}  // namespace recforge::io
