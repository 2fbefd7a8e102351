// H5File: create/open, 1-d datasets, string lists, attributes, with errors that
// carry the file path and HDF5's own message.
#include "hdf5_file.hpp"

#include <H5LTpublic.h>

#include <H5PLpublic.h>

#include <algorithm>
#include <mutex>

#include "recforge/core/error.hpp"

namespace recforge::io {

void hdf5_quiet() {
  static std::once_flag once;
  std::call_once(once, [] {
    // No library shutdown at exit: after a failed write (disk full) a file's
    // close fails and stays pending, and HDF5's atexit handler then crashes
    // retrying it, turning a clean error exit into SIGSEGV. The files that
    // matter are closed explicitly; the OS reclaims the rest.
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    H5PLset_loading_state(0);  // no filter plugin is ever loaded because a file names one
  });
}

namespace {

// A chunked dataset's chunks no larger than the dataset in any dimension (as
// every writer makes them): libhdf5 copies a corrupt, huge chunk shape past
// its buffers instead of refusing it (a flipped bit in a chunk dimension was
// a SIGSEGV inside H5Dread).
void check_chunk_shape(hid_t dataset, const std::string& path, const std::string& name) {
  H5Handle dcpl(H5Dget_create_plist(dataset), H5Handle::Kind::kPlist);
  if (H5Pget_layout(dcpl.id()) != H5D_CHUNKED) return;
  H5Handle space(H5Dget_space(dataset), H5Handle::Kind::kDataspace);
  const int ndims = H5Sget_simple_extent_ndims(space.id());
  RF_CHECK_KIND(ErrorKind::kHdf5, ndims >= 1 && ndims <= 8, path, ": dataset ", name, " has ", ndims,
                " dimensions");
  std::vector<hsize_t> dims(static_cast<std::size_t>(ndims)), chunk(static_cast<std::size_t>(ndims));
  H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
  RF_CHECK_KIND(ErrorKind::kHdf5, H5Pget_chunk(dcpl.id(), ndims, chunk.data()) == ndims, path, ": dataset ", name,
                " has an unreadable chunk shape");
  for (std::size_t d = 0; d < dims.size(); ++d) {
    RF_CHECK_KIND(ErrorKind::kHdf5, chunk[d] >= 1 && chunk[d] <= std::max<hsize_t>(dims[d], 1), path, ": dataset ",
                  name, " declares chunks of ", chunk[d], " in dimension ", d, " of ", dims[d], " (corrupt)");
  }
}

}  // namespace

std::int64_t ArrayInfo::elements() const {
  std::int64_t n = 1;
  for (std::int64_t d : dims) n *= d;
  return n;
}

std::string hdf5_error_message() {
  std::string message;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* error, void* data) -> herr_t {
        auto* out = static_cast<std::string*>(data);
        if (error->desc && *error->desc) *out = error->desc;  // keep the innermost
        return 0;
      },
      &message);
  H5Eclear2(H5E_DEFAULT);
  // One line: HDF5 puts a newline inside its I/O failure descriptions.
  std::replace(message.begin(), message.end(), '\n', ' ');
  return message;
}

namespace {
[[noreturn]] void fail(const std::string& path, const std::string& what) {
  const std::string detail = hdf5_error_message();
  RF_THROW(ErrorKind::kHdf5, path, ": ", what, detail.empty() ? std::string() : " (HDF5: " + detail + ")");
}
}  // namespace

H5Handle::~H5Handle() {
  if (id_ < 0) return;
  switch (kind_) {
    case Kind::kFile: H5Fclose(id_); break;
    case Kind::kGroup: H5Gclose(id_); break;
    case Kind::kDataset: H5Dclose(id_); break;
    case Kind::kDataspace: H5Sclose(id_); break;
    case Kind::kDatatype: H5Tclose(id_); break;
    case Kind::kAttribute: H5Aclose(id_); break;
    case Kind::kPlist: H5Pclose(id_); break;
  }
}

H5Handle& H5Handle::operator=(H5Handle&& other) noexcept {
  if (this != &other) {
    this->~H5Handle();
    id_ = other.id_;
    kind_ = other.kind_;
    other.id_ = -1;
  }
  return *this;
}

H5File H5File::create(const std::string& path) {
  hdf5_quiet();
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) fail(path, "cannot create HDF5 file");
  return H5File(path, H5Handle(id, H5Handle::Kind::kFile));
}

H5File H5File::open_read(const std::string& path) {
  hdf5_quiet();
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) fail(path, "cannot open HDF5 file");
  return H5File(path, H5Handle(id, H5Handle::Kind::kFile));
}

H5File H5File::open_image(const std::vector<std::uint8_t>& bytes, const std::string& label) {
  hdf5_quiet();
  // Read-only and without a copy: the caller keeps `bytes` alive while the file
  // is open (the checkpoint reader holds them). Nothing touches the disk.
  const unsigned flags = H5LT_FILE_IMAGE_DONT_COPY | H5LT_FILE_IMAGE_DONT_RELEASE;
  const hid_t id = H5LTopen_file_image(const_cast<std::uint8_t*>(bytes.data()), bytes.size(), flags);
  if (id < 0) fail(label, "not a readable HDF5 file");
  return H5File(label, H5Handle(id, H5Handle::Kind::kFile));
}

void H5File::flush() {
  if (H5Fflush(file_.id(), H5F_SCOPE_GLOBAL) < 0) fail(path_, "flush failed");
}

bool H5File::exists(const std::string& object) const {
  // Check each path component (H5Lexists fails on a missing intermediate group).
  std::size_t pos = 0;
  while (true) {
    pos = object.find('/', pos + 1);
    const std::string prefix = object.substr(0, pos);
    if (!prefix.empty() && prefix != "/") {
      const htri_t found = H5Lexists(file_.id(), prefix.c_str(), H5P_DEFAULT);
      if (found <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return false;
      }
    }
    if (pos == std::string::npos) return true;
  }
}

void H5File::create_group(const std::string& group) {
  if (exists(group)) return;
  H5Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Handle::Kind::kPlist);
  H5Pset_create_intermediate_group(lcpl.id(), 1);
  H5Handle g(H5Gcreate2(file_.id(), group.c_str(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT), H5Handle::Kind::kGroup);
  if (g.id() < 0) fail(path_, "cannot create group " + group);
}

void H5File::hard_link(const std::string& existing, const std::string& name) {
  H5Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Handle::Kind::kPlist);
  H5Pset_create_intermediate_group(lcpl.id(), 1);
  if (H5Lcreate_hard(file_.id(), existing.c_str(), file_.id(), name.c_str(), lcpl.id(), H5P_DEFAULT) < 0) {
    fail(path_, "cannot link " + name + " to " + existing);
  }
}

void H5File::write_raw(const std::string& name, const void* data, std::size_t n, hid_t type, std::size_t,
                       const DatasetOptions& options) {
  const hsize_t dims[1] = {static_cast<hsize_t>(n)};
  H5Handle space(H5Screate_simple(1, dims, nullptr), H5Handle::Kind::kDataspace);
  H5Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Handle::Kind::kPlist);
  H5Pset_create_intermediate_group(lcpl.id(), 1);
  H5Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Handle::Kind::kPlist);
  if (options.chunk_rows > 0 && n > 0) {
    const hsize_t chunk[1] = {static_cast<hsize_t>(std::min<std::size_t>(n, static_cast<std::size_t>(options.chunk_rows)))};
    H5Pset_chunk(dcpl.id(), 1, chunk);
    if (options.fletcher32) H5Pset_fletcher32(dcpl.id());
  }
  H5Handle dataset(H5Dcreate2(file_.id(), name.c_str(), type, space.id(), lcpl.id(), dcpl.id(), H5P_DEFAULT),
                   H5Handle::Kind::kDataset);
  if (dataset.id() < 0) fail(path_, "cannot create dataset " + name);
  if (n > 0 && H5Dwrite(dataset.id(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    fail(path_, "cannot write dataset " + name);
  }
}

void H5File::write_array(const std::string& name, const void* data, hid_t type, const std::vector<std::int64_t>& dims,
                         const DatasetOptions& options) {
  RF_CHECK(!dims.empty() && dims.size() <= 8, path_, ": dataset ", name, " needs 1 to 8 dimensions");
  std::vector<hsize_t> h5dims(dims.begin(), dims.end());
  H5Handle space(H5Screate_simple(static_cast<int>(h5dims.size()), h5dims.data(), nullptr), H5Handle::Kind::kDataspace);
  H5Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Handle::Kind::kPlist);
  H5Pset_create_intermediate_group(lcpl.id(), 1);
  H5Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Handle::Kind::kPlist);
  std::int64_t elements = 1;
  for (std::int64_t d : dims) elements *= d;
  if (options.chunk_rows > 0 && elements > 0) {
    std::vector<hsize_t> chunk = h5dims;
    chunk[0] = static_cast<hsize_t>(std::min(dims[0], options.chunk_rows));
    H5Pset_chunk(dcpl.id(), static_cast<int>(chunk.size()), chunk.data());
    if (options.fletcher32) H5Pset_fletcher32(dcpl.id());
  }
  if (options.fill_value != nullptr) H5Pset_fill_value(dcpl.id(), type, options.fill_value);
  H5Handle dataset(H5Dcreate2(file_.id(), name.c_str(), type, space.id(), lcpl.id(), dcpl.id(), H5P_DEFAULT),
                   H5Handle::Kind::kDataset);
  if (dataset.id() < 0) fail(path_, "cannot create dataset " + name);
  if (elements > 0 && H5Dwrite(dataset.id(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    fail(path_, "cannot write dataset " + name);
  }
}

ArrayInfo H5File::array_info(const std::string& name) const {
  H5Handle dataset(H5Dopen2(file_.id(), name.c_str(), H5P_DEFAULT), H5Handle::Kind::kDataset);
  if (dataset.id() < 0) fail(path_, "missing dataset " + name);
  H5Handle space(H5Dget_space(dataset.id()), H5Handle::Kind::kDataspace);
  const int ndims = H5Sget_simple_extent_ndims(space.id());
  if (ndims < 0 || ndims > 8) fail(path_, "dataset " + name + " has an unsupported number of dimensions");
  std::vector<hsize_t> dims(static_cast<std::size_t>(ndims));
  if (ndims > 0) H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
  H5Handle type(H5Dget_type(dataset.id()), H5Handle::Kind::kDatatype);
  ArrayInfo info;
  // Each dimension and their product (what a reader allocates) below 2^62: a
  // crafted file's (8, 2^61) would otherwise wrap to 0 elements and pass every
  // size check after it.
  hsize_t elements = 1;
  for (hsize_t d : dims) {
    RF_CHECK_KIND(ErrorKind::kHdf5, d < (hsize_t{1} << 62) && !__builtin_mul_overflow(elements, d, &elements) &&
                                        elements < (hsize_t{1} << 62),
                  path_, ": dataset ", name, " declares an impossible size");
    info.dims.push_back(static_cast<std::int64_t>(d));
  }
  info.type_class = H5Tget_class(type.id());
  info.element_size = H5Tget_size(type.id());
  info.is_signed = info.type_class != H5T_INTEGER || H5Tget_sign(type.id()) != H5T_SGN_NONE;
  return info;
}

void H5File::read_rows(const std::string& name, void* out, hid_t type, std::int64_t row_begin, std::int64_t rows) const {
  H5Handle dataset(H5Dopen2(file_.id(), name.c_str(), H5P_DEFAULT), H5Handle::Kind::kDataset);
  if (dataset.id() < 0) fail(path_, "missing dataset " + name);
  H5Handle space(H5Dget_space(dataset.id()), H5Handle::Kind::kDataspace);
  const int ndims = H5Sget_simple_extent_ndims(space.id());
  if (ndims < 1 || ndims > 8) fail(path_, "dataset " + name + " is not an array");
  std::vector<hsize_t> dims(static_cast<std::size_t>(ndims));
  H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
  const auto total = static_cast<std::int64_t>(dims[0]);
  check_chunk_shape(dataset.id(), path_, name);
  if (rows < 0) rows = total - row_begin;
  RF_CHECK_KIND(ErrorKind::kHdf5, row_begin >= 0 && rows >= 0 && row_begin + rows <= total, path_, ": rows [", row_begin,
                ", ", row_begin + rows, ") of dataset ", name, " outside its ", total, " rows");
  if (rows == 0) return;
  std::vector<hsize_t> start(dims.size(), 0), count = dims;
  start[0] = static_cast<hsize_t>(row_begin);
  count[0] = static_cast<hsize_t>(rows);
  H5Sselect_hyperslab(space.id(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  H5Handle memory(H5Screate_simple(ndims, count.data(), nullptr), H5Handle::Kind::kDataspace);
  if (H5Dread(dataset.id(), type, memory.id(), space.id(), H5P_DEFAULT, out) < 0) {
    fail(path_, "cannot read dataset " + name + " (corrupt or failed checksum)");
  }
}

std::int64_t H5File::storage_bytes(const std::string& name) const {
  H5Handle dataset(H5Dopen2(file_.id(), name.c_str(), H5P_DEFAULT), H5Handle::Kind::kDataset);
  if (dataset.id() < 0) fail(path_, "missing dataset " + name);
  return static_cast<std::int64_t>(H5Dget_storage_size(dataset.id()));
}

std::vector<int> H5File::filters(const std::string& name) const {
  H5Handle dataset(H5Dopen2(file_.id(), name.c_str(), H5P_DEFAULT), H5Handle::Kind::kDataset);
  if (dataset.id() < 0) fail(path_, "missing dataset " + name);
  H5Handle dcpl(H5Dget_create_plist(dataset.id()), H5Handle::Kind::kPlist);
  std::vector<int> out;
  const int n = H5Pget_nfilters(dcpl.id());
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0, config = 0;
    std::size_t cd_count = 0;
    out.push_back(static_cast<int>(H5Pget_filter2(dcpl.id(), static_cast<unsigned>(i), &flags, &cd_count, nullptr, 0,
                                                  nullptr, &config)));
  }
  return out;
}

std::vector<std::string> H5File::list(const std::string& group) const {
  std::vector<std::string> names;
  const herr_t status = H5Literate_by_name(
      file_.id(), group.c_str(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->emplace_back(name);
        return 0;
      },
      &names, H5P_DEFAULT);
  if (status < 0) fail(path_, "cannot list group " + group);
  return names;
}

void H5File::require_hard_links_only() const {
  std::string offending;
  const herr_t status = H5Lvisit(
      file_.id(), H5_INDEX_NAME, H5_ITER_INC,
      [](hid_t, const char* name, const H5L_info_t* info, void* data) -> herr_t {
        if (info->type == H5L_TYPE_HARD) return 0;
        *static_cast<std::string*>(data) = name;
        return 1;  // stop
      },
      &offending);
  if (status < 0) fail(path_, "cannot walk the file's links");
  RF_CHECK_KIND(ErrorKind::kHdf5, offending.empty(), path_, ": link '", offending,
                "' is a soft or external link; checkpoints contain hard links only");
}

std::int64_t H5File::length(const std::string& name) const {
  H5Handle dataset(H5Dopen2(file_.id(), name.c_str(), H5P_DEFAULT), H5Handle::Kind::kDataset);
  if (dataset.id() < 0) fail(path_, "missing dataset " + name);
  H5Handle space(H5Dget_space(dataset.id()), H5Handle::Kind::kDataspace);
  if (H5Sget_simple_extent_ndims(space.id()) != 1) fail(path_, "dataset " + name + " is not 1-d");
  hsize_t dims[1] = {0};
  H5Sget_simple_extent_dims(space.id(), dims, nullptr);
  return static_cast<std::int64_t>(dims[0]);
}

void H5File::read_raw(const std::string& name, void* data, std::size_t n, hid_t type, std::size_t) const {
  H5Handle dataset(H5Dopen2(file_.id(), name.c_str(), H5P_DEFAULT), H5Handle::Kind::kDataset);
  if (dataset.id() < 0) fail(path_, "missing dataset " + name);
  check_chunk_shape(dataset.id(), path_, name);
  if (n > 0 && H5Dread(dataset.id(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    fail(path_, "cannot read dataset " + name);
  }
}

void H5File::write_strings(const std::string& name, const std::vector<std::string>& values) {
  std::vector<std::uint8_t> bytes;
  std::vector<std::int64_t> offsets = {0};
  for (const std::string& v : values) {
    bytes.insert(bytes.end(), v.begin(), v.end());
    offsets.push_back(static_cast<std::int64_t>(bytes.size()));
  }
  write(name + ".bytes", bytes);
  write(name + ".offsets", offsets);
}

std::vector<std::string> H5File::read_strings(const std::string& name) const {
  const auto bytes = read<std::uint8_t>(name + ".bytes");
  const auto offsets = read<std::int64_t>(name + ".offsets");
  RF_CHECK_KIND(ErrorKind::kHdf5, !offsets.empty() && offsets.front() == 0 &&
                                      offsets.back() == static_cast<std::int64_t>(bytes.size()),
                path_, ": string list ", name, " has inconsistent offsets");
  std::vector<std::string> out;
  out.reserve(offsets.size() - 1);
  for (std::size_t i = 0; i + 1 < offsets.size(); ++i) {
    RF_CHECK_KIND(ErrorKind::kHdf5, offsets[i] <= offsets[i + 1], path_, ": string list ", name, " is corrupt");
    out.emplace_back(reinterpret_cast<const char*>(bytes.data()) + offsets[i],
                     static_cast<std::size_t>(offsets[i + 1] - offsets[i]));
  }
  return out;
}

void H5File::set_attribute(const std::string& object, const std::string& name, const std::string& value) {
  H5Handle type(H5Tcopy(H5T_C_S1), H5Handle::Kind::kDatatype);
  H5Tset_size(type.id(), std::max<std::size_t>(1, value.size()));
  H5Tset_cset(type.id(), H5T_CSET_UTF8);
  H5Handle space(H5Screate(H5S_SCALAR), H5Handle::Kind::kDataspace);
  if (H5Aexists_by_name(file_.id(), object.c_str(), name.c_str(), H5P_DEFAULT) > 0) {
    H5Adelete_by_name(file_.id(), object.c_str(), name.c_str(), H5P_DEFAULT);
  }
  H5Handle attr(H5Acreate_by_name(file_.id(), object.c_str(), name.c_str(), type.id(), space.id(), H5P_DEFAULT,
                                  H5P_DEFAULT, H5P_DEFAULT),
                H5Handle::Kind::kAttribute);
  if (attr.id() < 0 || H5Awrite(attr.id(), type.id(), value.empty() ? "" : value.data()) < 0) {
    fail(path_, "cannot write attribute " + object + "@" + name);
  }
}

void H5File::set_attribute(const std::string& object, const std::string& name, std::int64_t value) {
  H5Handle space(H5Screate(H5S_SCALAR), H5Handle::Kind::kDataspace);
  if (H5Aexists_by_name(file_.id(), object.c_str(), name.c_str(), H5P_DEFAULT) > 0) {
    H5Adelete_by_name(file_.id(), object.c_str(), name.c_str(), H5P_DEFAULT);
  }
  H5Handle attr(H5Acreate_by_name(file_.id(), object.c_str(), name.c_str(), H5T_STD_I64LE, space.id(), H5P_DEFAULT,
                                  H5P_DEFAULT, H5P_DEFAULT),
                H5Handle::Kind::kAttribute);
  if (attr.id() < 0 || H5Awrite(attr.id(), H5T_NATIVE_INT64, &value) < 0) {
    fail(path_, "cannot write attribute " + object + "@" + name);
  }
}

void H5File::set_attribute(const std::string& object, const std::string& name, double value) {
  H5Handle space(H5Screate(H5S_SCALAR), H5Handle::Kind::kDataspace);
  if (H5Aexists_by_name(file_.id(), object.c_str(), name.c_str(), H5P_DEFAULT) > 0) {
    H5Adelete_by_name(file_.id(), object.c_str(), name.c_str(), H5P_DEFAULT);
  }
  H5Handle attr(H5Acreate_by_name(file_.id(), object.c_str(), name.c_str(), H5T_IEEE_F64LE, space.id(), H5P_DEFAULT,
                                  H5P_DEFAULT, H5P_DEFAULT),
                H5Handle::Kind::kAttribute);
  if (attr.id() < 0 || H5Awrite(attr.id(), H5T_NATIVE_DOUBLE, &value) < 0) {
    fail(path_, "cannot write attribute " + object + "@" + name);
  }
}

std::optional<double> H5File::double_attribute(const std::string& object, const std::string& name) const {
  if (H5Aexists_by_name(file_.id(), object.c_str(), name.c_str(), H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  H5Handle attr(H5Aopen_by_name(file_.id(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
                H5Handle::Kind::kAttribute);
  H5Handle type(H5Aget_type(attr.id()), H5Handle::Kind::kDatatype);
  H5Handle space(H5Aget_space(attr.id()), H5Handle::Kind::kDataspace);
  if (H5Tget_class(type.id()) != H5T_FLOAT || H5Sget_simple_extent_npoints(space.id()) != 1) {
    fail(path_, "attribute " + object + "@" + name + " is not a scalar float");
  }
  double value = 0;
  if (H5Aread(attr.id(), H5T_NATIVE_DOUBLE, &value) < 0) fail(path_, "cannot read attribute " + name);
  return value;
}

std::vector<std::string> H5File::attribute_names(const std::string& object) const {
  std::vector<std::string> names;
  const herr_t status = H5Aiterate_by_name(
      file_.id(), object.c_str(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->emplace_back(name);
        return 0;
      },
      &names, H5P_DEFAULT);
  if (status < 0) fail(path_, "cannot list the attributes of " + object);
  return names;
}

std::optional<std::string> H5File::string_attribute(const std::string& object, const std::string& name) const {
  if (H5Aexists_by_name(file_.id(), object.c_str(), name.c_str(), H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  H5Handle attr(H5Aopen_by_name(file_.id(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
                H5Handle::Kind::kAttribute);
  H5Handle type(H5Aget_type(attr.id()), H5Handle::Kind::kDatatype);
  H5Handle space(H5Aget_space(attr.id()), H5Handle::Kind::kDataspace);
  // Checked before reading: the buffer is sized for exactly one string.
  if (H5Tget_class(type.id()) != H5T_STRING || H5Tis_variable_str(type.id()) > 0 ||
      H5Sget_simple_extent_npoints(space.id()) != 1) {
    fail(path_, "attribute " + object + "@" + name + " is not a scalar fixed-length string");
  }
  const std::size_t size = H5Tget_size(type.id());
  if (size > (std::size_t{64} << 20)) fail(path_, "attribute " + object + "@" + name + " is larger than 64 MiB");
  std::string value(size, '\0');
  H5Handle memtype(H5Tcopy(H5T_C_S1), H5Handle::Kind::kDatatype);
  H5Tset_size(memtype.id(), size);
  H5Tset_cset(memtype.id(), H5Tget_cset(type.id()));  // no conversion between ASCII and UTF-8
  if (H5Aread(attr.id(), memtype.id(), value.data()) < 0) fail(path_, "cannot read attribute " + name);
  while (!value.empty() && value.back() == '\0') value.pop_back();
  return value;
}

std::optional<std::int64_t> H5File::int_attribute(const std::string& object, const std::string& name) const {
  if (H5Aexists_by_name(file_.id(), object.c_str(), name.c_str(), H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  H5Handle attr(H5Aopen_by_name(file_.id(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
                H5Handle::Kind::kAttribute);
  H5Handle type(H5Aget_type(attr.id()), H5Handle::Kind::kDatatype);
  H5Handle space(H5Aget_space(attr.id()), H5Handle::Kind::kDataspace);
  if (H5Tget_class(type.id()) != H5T_INTEGER || H5Sget_simple_extent_npoints(space.id()) != 1) {
    fail(path_, "attribute " + object + "@" + name + " is not a scalar integer");
  }
  std::int64_t value = 0;
  if (H5Aread(attr.id(), H5T_NATIVE_INT64, &value) < 0) fail(path_, "cannot read attribute " + name);
  return value;
}

}  // namespace recforge::io
