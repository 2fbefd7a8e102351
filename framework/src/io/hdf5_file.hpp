// A thin RAII layer over the HDF5 C API for the files recforge writes itself
// (dataset caches, checkpoints): 1-d datasets of numbers, string lists, and
// scalar attributes. HDF5's automatic error printing is turned off; failures
// become recforge::Error (kHdf5) with the path and HDF5's innermost message.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace recforge::io {

// Owns one hid_t and closes it with the right H5*close.
class H5Handle {
 public:
  enum class Kind { kFile, kGroup, kDataset, kDataspace, kDatatype, kAttribute, kPlist };
  H5Handle() = default;
  H5Handle(hid_t id, Kind kind) : id_(id), kind_(kind) {}
  ~H5Handle();
  H5Handle(H5Handle&& other) noexcept : id_(other.id_), kind_(other.kind_) { other.id_ = -1; }
  H5Handle& operator=(H5Handle&& other) noexcept;
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  hid_t id() const { return id_; }

 private:
  hid_t id_ = -1;
  Kind kind_ = Kind::kFile;
};

struct DatasetOptions {
  std::int64_t chunk_rows = 0;  // 0: contiguous
  bool fletcher32 = false;      // per-chunk checksum (needs chunk_rows > 0)
  // Value HDF5 returns for storage it cannot find (in the dataset's type), e.g.
  // NaN: a damaged chunk index then reads as values a checker rejects, not as zeros.
  const void* fill_value = nullptr;
};

// Shape and element type of an N-d dataset, read before any data.
struct ArrayInfo {
  std::vector<std::int64_t> dims;
  H5T_class_t type_class = H5T_NO_CLASS;
  std::size_t element_size = 0;
  bool is_signed = true;
  std::int64_t elements() const;
};

class H5File {
 public:
  static H5File create(const std::string& path);     // truncates
  static H5File open_read(const std::string& path);
  // Opens bytes already in memory, read-only (the core driver, no backing
  // file): what was verified is what is parsed. `label` names it in errors.
  static H5File open_image(const std::vector<std::uint8_t>& bytes, const std::string& label);
  const std::string& path() const { return path_; }
  hid_t id() const { return file_.id(); }
  void flush();

  bool exists(const std::string& object) const;
  void create_group(const std::string& group);
  // A second name for an existing object (both names are equal hard links).
  void hard_link(const std::string& existing, const std::string& name);

  template <class T>
  void write(const std::string& name, const std::vector<T>& values, const DatasetOptions& options = {}) {
    write_raw(name, values.data(), values.size(), native_type<T>(), sizeof(T), options);
  }
  template <class T>
  std::vector<T> read(const std::string& name) const {
    std::vector<T> out(static_cast<std::size_t>(length(name)));
    read_raw(name, out.data(), out.size(), native_type<T>(), sizeof(T));
    return out;
  }
  // Number of elements of a 1-d dataset (throws if it is not 1-d).
  std::int64_t length(const std::string& name) const;

  // N-d datasets (row-major). Chunks hold options.chunk_rows rows of dims[1..].
  void write_array(const std::string& name, const void* data, hid_t type, const std::vector<std::int64_t>& dims,
                   const DatasetOptions& options = {});
  ArrayInfo array_info(const std::string& name) const;
  // Reads rows [row_begin, row_begin + rows) of the dataset (all of dims[1..])
  // into `out`, converting to `type`; `rows` < 0 reads to the end.
  void read_rows(const std::string& name, void* out, hid_t type, std::int64_t row_begin = 0,
                 std::int64_t rows = -1) const;
  // Bytes of storage allocated to a dataset (chunks actually written).
  std::int64_t storage_bytes(const std::string& name) const;
  // The filters of a dataset's pipeline (H5Z_FILTER_* ids).
  std::vector<int> filters(const std::string& name) const;
  // Names of the links directly in `group`, in name order.
  std::vector<std::string> list(const std::string& group) const;
  // Throws unless every link in the file is a hard link (no external or soft
  // links: a checkpoint must not point outside itself).
  void require_hard_links_only() const;

  // Strings as two datasets: <name>.bytes (u8) and <name>.offsets (i64, size n + 1).
  void write_strings(const std::string& name, const std::vector<std::string>& values);
  std::vector<std::string> read_strings(const std::string& name) const;

  void set_attribute(const std::string& object, const std::string& name, const std::string& value);
  void set_attribute(const std::string& object, const std::string& name, std::int64_t value);
  void set_attribute(const std::string& object, const std::string& name, double value);
  std::optional<double> double_attribute(const std::string& object, const std::string& name) const;
  // Names of the attributes of `object`.
  std::vector<std::string> attribute_names(const std::string& object) const;
  std::optional<std::string> string_attribute(const std::string& object, const std::string& name) const;
  std::optional<std::int64_t> int_attribute(const std::string& object, const std::string& name) const;

  template <class T>
  static hid_t native_type();

 private:
  H5File(std::string path, H5Handle file) : path_(std::move(path)), file_(std::move(file)) {}
  void write_raw(const std::string& name, const void* data, std::size_t n, hid_t type, std::size_t element,
                 const DatasetOptions& options);
  void read_raw(const std::string& name, void* data, std::size_t n, hid_t type, std::size_t element) const;
  std::string path_;
  H5Handle file_;
};

template <> inline hid_t H5File::native_type<float>() { return H5T_NATIVE_FLOAT; }
template <> inline hid_t H5File::native_type<double>() { return H5T_NATIVE_DOUBLE; }
template <> inline hid_t H5File::native_type<std::int32_t>() { return H5T_NATIVE_INT32; }
template <> inline hid_t H5File::native_type<std::int64_t>() { return H5T_NATIVE_INT64; }
template <> inline hid_t H5File::native_type<std::uint8_t>() { return H5T_NATIVE_UINT8; }
template <> inline hid_t H5File::native_type<std::uint32_t>() { return H5T_NATIVE_UINT32; }
template <> inline hid_t H5File::native_type<std::uint64_t>() { return H5T_NATIVE_UINT64; }

// The innermost message of the current HDF5 error stack (empty when none).
std::string hdf5_error_message();
// Silences HDF5's default error printing and turns off dynamically loaded
// filter plugins (a file must not make us load a library), once per process.
void hdf5_quiet();

}  // namespace recforge::io
