// The checkpoint file: writer and validating reader (see checkpoint_file.hpp and
// the layout table in framework/README.md).
#include "recforge/checkpoint/checkpoint_file.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <limits>

#include <fmt/format.h>

#include "io/hdf5_file.hpp"
#include "recforge/core/fault.hpp"
#include "recforge/core/version.hpp"
#include "recforge/log/logging.hpp"

namespace recforge::checkpoint {
std::string utc_timestamp() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

namespace {

// A name from a file as error text: bytes outside printable ASCII as \xNN.
std::string printable(const std::string& name) {
  std::string out;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    out += u >= 0x20 && u < 0x7f ? std::string(1, c) : fmt::format("\\x{:02x}", u);
  }
  return out;
}

// Parameter and slot names become HDF5 link names: no '/', nothing odd.
// `where` is the file being written or read.
void check_name(const std::string& where, const std::string& what, const std::string& name) {
  const bool ok = !name.empty() && name.size() <= 128 && name != "." && name != ".." &&
                  std::all_of(name.begin(), name.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                           c == '.' || c == '-';
                  });
  RF_CHECK(ok, where, ": ", what, " name '", printable(name.substr(0, 200)), "' must be 1-128 characters of [A-Za-z0-9_.-]");
}

// Fill values of storage HDF5 cannot find (a damaged chunk index): values the
// reader rejects (NaN parameters, negative ids and offsets), never zeros.
const float kFillF32 = std::numeric_limits<float>::quiet_NaN();
const std::int64_t kFillI64 = std::numeric_limits<std::int64_t>::min();
const std::int32_t kFillI32 = std::numeric_limits<std::int32_t>::min();
const std::uint8_t kFillU8 = 0xff;

template <class T>
const void* fill_of() {
  if constexpr (std::is_same_v<T, std::int64_t>) return &kFillI64;
  else if constexpr (std::is_same_v<T, std::int32_t>) return &kFillI32;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return &kFillU8;
  else return &kFillF32;
}

io::DatasetOptions row_chunks(const Tensor& t) {
  std::int64_t row_bytes = 4;
  for (int a = 1; a < t.ndim(); ++a) row_bytes *= t.size(a);
  return {.chunk_rows = std::max<std::int64_t>(1, kChunkBytes / std::max<std::int64_t>(1, row_bytes)),
          .fletcher32 = true,
          .fill_value = &kFillF32};
}

std::vector<std::int64_t> dims_of(const Tensor& t) { return {t.shape().begin(), t.shape().end()}; }

void write_f32(io::H5File& file, const std::string& name, const Tensor& t) {
  RF_CHECK(t.device().is_cpu() && t.dtype() == DType::kF32 && t.is_contiguous(), "checkpoint: ", name,
           " must be a contiguous f32 CPU tensor");
  RF_CHECK_KIND(ErrorKind::kConfig, t.numel() <= kMaxArrayElements, "checkpoint: ", name, " has ", t.numel(),
                " elements; a checkpoint array holds at most ", kMaxArrayElements,
                " (readers refuse more): a smaller table (fewer factors or rows)");
  file.write_array(name, t.data(), H5T_IEEE_F32LE, dims_of(t), row_chunks(t));
}

template <class T>
void write_vector(io::H5File& file, const std::string& name, const std::vector<T>& v, hid_t file_type) {
  RF_CHECK_KIND(ErrorKind::kConfig, static_cast<std::int64_t>(v.size()) <= kMaxArrayElements, "checkpoint: ", name,
                " has ", v.size(), " elements; a checkpoint array holds at most ", kMaxArrayElements,
                " (readers refuse more)");
  file.write_array(name, v.data(), file_type, {static_cast<std::int64_t>(v.size())},
                   {.chunk_rows = std::max<std::int64_t>(1, kChunkBytes / static_cast<std::int64_t>(sizeof(T))),
                    .fletcher32 = true,
                    .fill_value = fill_of<T>()});
}

// Factor models serve their parameters as they are (ALS: the factors): the
// serving name is then a hard link to the parameter's dataset, not a copy.
void write_serving_embeddings(io::H5File& file, const std::string& name, const Tensor& t,
                              const std::vector<ParameterState>& params) {
  for (const ParameterState& p : params) {
    if (p.value.shape() == t.shape() && p.value.dtype() == t.dtype() && p.value.is_contiguous() && t.is_contiguous() &&
        std::memcmp(p.value.data(), t.data(), static_cast<std::size_t>(t.nbytes())) == 0) {
      file.hard_link("/params/" + p.name, name);
      return;
    }
  }
  write_f32(file, name, t);
}

void write_ids(io::H5File& file, const std::string& name, const data::IdMap& ids) {
  if (ids.is_integer()) {
    write_vector(file, name, ids.integer_ids(), H5T_STD_I64LE);
    return;
  }
  std::vector<std::uint8_t> bytes;
  std::vector<std::int64_t> offsets = {0};
  for (const std::string& s : ids.string_ids()) {
    bytes.insert(bytes.end(), s.begin(), s.end());
    offsets.push_back(static_cast<std::int64_t>(bytes.size()));
  }
  write_vector(file, name + ".bytes", bytes, H5T_STD_U8LE);
  write_vector(file, name + ".offsets", offsets, H5T_STD_I64LE);
}

}  // namespace

void write_checkpoint(const std::string& path, const Contents& c) {
  io::H5File file = io::H5File::create(path);
  const Meta& m = c.meta;
  file.set_attribute("/", "format", std::string(kFormatName));
  file.set_attribute("/", "format_version", kFormatVersion);
  file.set_attribute("/", "model_type", m.model_type);
  file.set_attribute("/", "recforge_version", m.recforge_version.empty() ? std::string(version()) : m.recforge_version);
  file.set_attribute("/", "git_revision", m.git_revision.empty() ? std::string(git_revision()) : m.git_revision);
  file.set_attribute("/", "created", m.created.empty() ? utc_timestamp() : m.created);
  file.set_attribute("/", "world_size", m.world_size);
  file.set_attribute("/", "seed", static_cast<std::int64_t>(m.seed));
  file.set_attribute("/", "dataset_name", m.dataset_name);
  file.set_attribute("/", "dataset_fingerprint", m.dataset_fingerprint);
  file.set_attribute("/", "config", m.config_yaml);
  file.set_attribute("/", "model_revision", m.model_revision);

  file.create_group("/params");
  file.create_group("/optimizer");
  for (const ParameterState& p : c.params) {
    check_name(path, "parameter", p.name);
    RF_CHECK(p.kind == "dense" || p.kind == "embedding", "checkpoint: parameter ", p.name, " has kind '", p.kind, "'");
    write_f32(file, "/params/" + p.name, p.value);
    file.set_attribute("/params/" + p.name, "kind", p.kind);
    for (const NamedTensor& slot : p.optimizer) {
      check_name(path, "optimizer slot", slot.name);
      RF_CHECK(slot.value.shape() == p.value.shape(), "checkpoint: optimizer slot ", p.name, "/", slot.name, " has shape ",
               slot.value.shape().str(), ", the parameter ", p.value.shape().str());
      write_f32(file, "/optimizer/" + p.name + "/" + slot.name, slot.value);
    }
  }

  // RELIABILITY F4 kills the writer here, halfway through the file.
  fault::at_phase(log::rank(), "checkpoint_mid_data", c.position.global_step);

  const Position& pos = c.position;
  file.create_group("/data");
  file.set_attribute("/data", "epoch", pos.epoch);
  file.set_attribute("/data", "step_in_epoch", pos.step_in_epoch);
  file.set_attribute("/data", "global_step", pos.global_step);
  file.create_group("/rng");
  file.set_attribute("/rng", "generator", std::string("philox4x32-10"));
  file.set_attribute("/rng", "seed", static_cast<std::int64_t>(m.seed));
  file.set_attribute("/rng", "keying", std::string("every draw is keyed by (seed, stream, epoch, row): /data is its position"));
  file.create_group("/train");
  file.set_attribute("/train", "epoch_loss_sum", pos.epoch_loss_sum);
  file.set_attribute("/train", "epoch_examples", pos.epoch_examples);
  file.set_attribute("/train", "best_value", pos.best_value);
  file.set_attribute("/train", "best_epoch", pos.best_epoch);
  file.set_attribute("/train", "evals_since_best", pos.evals_since_best);

  write_ids(file, "/ids/users", c.users);
  write_ids(file, "/ids/items", c.items);

  const Serving& s = c.serving;
  file.create_group("/serving");
  const bool dot = s.user_embeddings.defined() && s.item_embeddings.defined();
  file.set_attribute("/serving", "scorer", std::string(dot ? "dot" : "model"));
  if (dot) {
    write_serving_embeddings(file, "/serving/user_embeddings", s.user_embeddings, c.params);
    write_serving_embeddings(file, "/serving/item_embeddings", s.item_embeddings, c.params);
    file.set_attribute("/serving", "item_bias_columns", s.item_bias_columns);
  }
  write_vector(file, "/serving/item_popularity", s.item_popularity, H5T_STD_I64LE);
  write_vector(file, "/serving/seen/offsets", s.seen_offsets, H5T_STD_I64LE);
  write_vector(file, "/serving/seen/items", s.seen_items, H5T_STD_I32LE);

  file.create_group("/metrics");
  for (const auto& [name, value] : c.metrics) file.set_attribute("/metrics", name, value);
  file.flush();
}

// ---- reading ----------------------------------------------------------------

namespace {

// Index of the first NaN/Inf, or -1. A branch-free scan of the exponent bits
// (vectorised) first: parameters are large and almost always clean.
std::int64_t first_nonfinite(const float* v, std::int64_t n) {
  const auto* bits = reinterpret_cast<const std::uint32_t*>(v);
  std::uint32_t any = 0;
  for (std::int64_t i = 0; i < n; ++i) any |= static_cast<std::uint32_t>((bits[i] & 0x7f800000u) == 0x7f800000u);
  if (any == 0) return -1;
  for (std::int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) return i;
  }
  return -1;
}

[[noreturn]] void corrupt(const std::string& label, const std::string& what) {
  RF_THROW(ErrorKind::kHdf5, label, ": ", what);
}

}  // namespace

CheckpointReader::CheckpointReader(std::shared_ptr<const std::vector<std::uint8_t>> bytes, std::string label,
                                   ReadLimits limits)
    : bytes_(std::move(bytes)), label_(std::move(label)), limits_(limits) {
  file_ = std::make_unique<io::H5File>(io::H5File::open_image(*bytes_, label_));
  file_->require_hard_links_only();
  const auto format = file_->string_attribute("/", "format");
  if (format != std::string(kFormatName)) {
    corrupt(label_, fmt::format("not a recforge checkpoint (format attribute '{}')", format.value_or("missing")));
  }
  const auto version = file_->int_attribute("/", "format_version");
  if (!version || *version < 1) corrupt(label_, "missing or invalid format_version");
  RF_CHECK_KIND(ErrorKind::kConfig, *version <= kFormatVersion, label_, ": checkpoint format version ", *version,
                " was written by a newer recforge; this build reads versions 1 to ", kFormatVersion);
  meta_.format_version = *version;
  const auto text = [&](const char* name) {
    const auto v = file_->string_attribute("/", name);
    if (!v) corrupt(label_, fmt::format("missing root attribute '{}'", name));
    return *v;
  };
  const auto integer = [&](const std::string& object, const char* name) {
    const auto v = file_->int_attribute(object, name);
    if (!v) corrupt(label_, fmt::format("missing attribute {}@{}", object, name));
    return *v;
  };
  meta_.model_type = text("model_type");
  meta_.recforge_version = text("recforge_version");
  meta_.git_revision = text("git_revision");
  meta_.created = text("created");
  meta_.world_size = integer("/", "world_size");
  meta_.seed = static_cast<std::uint64_t>(integer("/", "seed"));
  meta_.dataset_name = text("dataset_name");
  meta_.dataset_fingerprint = text("dataset_fingerprint");
  meta_.config_yaml = text("config");
  meta_.model_revision = file_->int_attribute("/", "model_revision").value_or(0);
}

CheckpointReader::~CheckpointReader() = default;
CheckpointReader::CheckpointReader(CheckpointReader&&) noexcept = default;
CheckpointReader& CheckpointReader::operator=(CheckpointReader&&) noexcept = default;

Position CheckpointReader::position() const {
  const auto integer = [&](const char* object, const char* name) {
    const auto v = file_->int_attribute(object, name);
    if (!v) corrupt(label_, fmt::format("missing attribute {}@{}", object, name));
    return *v;
  };
  const auto real = [&](const char* object, const char* name) {
    const auto v = file_->double_attribute(object, name);
    if (!v) corrupt(label_, fmt::format("missing attribute {}@{}", object, name));
    return *v;
  };
  Position p;
  p.epoch = integer("/data", "epoch");
  p.step_in_epoch = integer("/data", "step_in_epoch");
  p.global_step = integer("/data", "global_step");
  if (p.epoch < 0 || p.step_in_epoch < 0 || p.global_step < 0) corrupt(label_, "negative training position");
  p.epoch_loss_sum = real("/train", "epoch_loss_sum");
  p.epoch_examples = integer("/train", "epoch_examples");
  p.best_value = real("/train", "best_value");
  p.best_epoch = integer("/train", "best_epoch");
  p.evals_since_best = integer("/train", "evals_since_best");
  return p;
}

std::vector<std::string> CheckpointReader::parameter_names() const { return file_->list("/params"); }

Tensor CheckpointReader::read_f32(const std::string& dataset, std::int64_t row_begin, std::int64_t rows) const {
  if (!file_->exists(dataset)) corrupt(label_, "missing dataset " + dataset);
  const io::ArrayInfo info = file_->array_info(dataset);
  if (info.type_class != H5T_FLOAT || info.element_size != 4) {
    corrupt(label_, fmt::format("{} is not f32 (class {}, {} bytes)", dataset, static_cast<int>(info.type_class),
                                info.element_size));
  }
  if (info.dims.empty() || info.dims.size() > 4) corrupt(label_, dataset + " must have 1 to 4 dimensions");
  for (int f : file_->filters(dataset)) {
    if (f != H5Z_FILTER_FLETCHER32) corrupt(label_, fmt::format("{} uses filter {}; only fletcher32 is accepted", dataset, f));
  }
  // Uncompressed data cannot be larger than the file: a larger declaration is
  // a corrupt or hostile file, refused before allocating.
  const std::int64_t elements = info.elements();
  if (elements > limits_.max_elements_per_array || elements * 4 > static_cast<std::int64_t>(bytes_->size())) {
    corrupt(label_, fmt::format("{} declares {} elements, more than the file can hold", dataset, elements));
  }
  require_stored(dataset, elements * 4);
  if (rows < 0) rows = info.dims[0] - row_begin;
  if (row_begin < 0 || rows < 0 || row_begin + rows > info.dims[0]) {
    RF_THROW(ErrorKind::kInvalidArgument, label_, ": rows [", row_begin, ", ", row_begin + rows, ") of ", dataset,
             " outside its ", info.dims[0], " rows");
  }
  Shape shape;
  shape.push_back(rows);
  for (std::size_t a = 1; a < info.dims.size(); ++a) shape.push_back(info.dims[a]);
  Tensor out = Tensor::empty(shape, DType::kF32);
  file_->read_rows(dataset, out.data(), H5T_NATIVE_FLOAT, row_begin, rows);
  // Writers never store non-finite values: one here is damage (or the NaN fill
  // of a chunk the index lost).
  if (const std::int64_t bad = first_nonfinite(out.data_as<float>(), out.numel()); bad >= 0) {
    corrupt(label_, fmt::format("{} holds a non-finite value at element {}", dataset, bad));
  }
  return out;
}

void CheckpointReader::require_stored(const std::string& dataset, std::int64_t bytes) const {
  // HDF5 returns fill values (zeros) for chunks its index does not list: a
  // damaged index would otherwise read as silently zeroed parameters.
  const std::int64_t stored = file_->storage_bytes(dataset);
  if (stored < bytes) {
    corrupt(label_, fmt::format("{} has {} bytes stored for {} bytes of data (chunks missing)", dataset, stored, bytes));
  }
}

template <class T>
std::vector<T> CheckpointReader::read_vector(const std::string& dataset, std::int64_t max_elements) const {
  if (!file_->exists(dataset)) corrupt(label_, "missing dataset " + dataset);
  const io::ArrayInfo info = file_->array_info(dataset);
  const bool integral = std::is_integral_v<T>;
  if (info.dims.size() != 1 || (info.type_class == H5T_INTEGER) != integral || info.element_size != sizeof(T)) {
    corrupt(label_, fmt::format("{} is not a 1-d array of {}-byte {}", dataset, sizeof(T), integral ? "integers" : "floats"));
  }
  if (info.dims[0] > max_elements || info.dims[0] * static_cast<std::int64_t>(sizeof(T)) >
                                         static_cast<std::int64_t>(bytes_->size())) {
    corrupt(label_, fmt::format("{} declares {} elements, more than the file can hold", dataset, info.dims[0]));
  }
  require_stored(dataset, info.dims[0] * static_cast<std::int64_t>(sizeof(T)));
  std::vector<T> out(static_cast<std::size_t>(info.dims[0]));
  file_->read_rows(dataset, out.data(), io::H5File::native_type<T>(), 0, info.dims[0]);
  return out;
}

ParameterState CheckpointReader::parameter(const std::string& name, const std::optional<Shape>& expected) const {
  check_name(label_, "parameter", name);
  ParameterState p;
  p.name = name;
  p.kind = file_->string_attribute("/params/" + name, "kind").value_or("");
  if (p.kind != "dense" && p.kind != "embedding") corrupt(label_, "parameter " + name + " has no valid kind attribute");
  p.value = read_f32("/params/" + name);
  if (expected && p.value.shape() != *expected) {
    RF_THROW(ErrorKind::kConfig, label_, ": parameter '", name, "' has shape ", p.value.shape().str(),
             " in the checkpoint but ", expected->str(), " in the model (different factors, users or items?)");
  }
  const std::string group = "/optimizer/" + name;
  if (file_->exists(group)) {
    for (const std::string& slot : file_->list(group)) {
      check_name(label_, "optimizer slot", slot);
      Tensor value = read_f32(group + "/" + slot);
      if (value.shape() != p.value.shape()) corrupt(label_, "optimizer slot " + group + "/" + slot + " has the wrong shape");
      p.optimizer.push_back({slot, std::move(value)});
    }
  }
  return p;
}

Tensor CheckpointReader::parameter_rows(const std::string& name, std::int64_t begin, std::int64_t count) const {
  check_name(label_, "parameter", name);
  return read_f32("/params/" + name, begin, count);
}

data::IdMap CheckpointReader::read_ids(const std::string& name) const {
  const std::int64_t max = std::numeric_limits<std::int32_t>::max();
  try {
    if (file_->exists(name)) return data::IdMap::integers(read_vector<std::int64_t>(name, max));
    const auto bytes = read_vector<std::uint8_t>(name + ".bytes", limits_.max_elements_per_array);
    const auto offsets = read_vector<std::int64_t>(name + ".offsets", max);
    if (offsets.empty() || offsets.front() != 0 || offsets.back() != static_cast<std::int64_t>(bytes.size()) ||
        !std::is_sorted(offsets.begin(), offsets.end())) {
      corrupt(label_, name + " has inconsistent string offsets");
    }
    std::vector<std::string> ids;
    ids.reserve(offsets.size() - 1);
    for (std::size_t i = 0; i + 1 < offsets.size(); ++i) {
      ids.emplace_back(reinterpret_cast<const char*>(bytes.data()) + offsets[i],
                       static_cast<std::size_t>(offsets[i + 1] - offsets[i]));
    }
    return data::IdMap::strings(std::move(ids));
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kHdf5) throw;
    corrupt(label_, name + ": " + e.what());
  }
}

data::IdMap CheckpointReader::users() const { return read_ids("/ids/users"); }
data::IdMap CheckpointReader::items() const { return read_ids("/ids/items"); }

Serving CheckpointReader::serving() const {
  Serving s;
  const std::int64_t max = std::numeric_limits<std::int32_t>::max();
  const auto scorer = file_->string_attribute("/serving", "scorer");
  if (!scorer || (*scorer != "dot" && *scorer != "model")) corrupt(label_, "/serving has no valid scorer attribute");
  s.item_popularity = read_vector<std::int64_t>("/serving/item_popularity", max);
  if (std::any_of(s.item_popularity.begin(), s.item_popularity.end(), [](std::int64_t c) { return c < 0; })) {
    corrupt(label_, "/serving/item_popularity holds a negative count");
  }
  s.seen_offsets = read_vector<std::int64_t>("/serving/seen/offsets", std::int64_t{max} + 1);
  s.seen_items = read_vector<std::int32_t>("/serving/seen/items", limits_.max_elements_per_array);
  const auto items = static_cast<std::int64_t>(s.item_popularity.size());
  // The server indexes with these: every invariant is checked here.
  if (s.seen_offsets.empty() || s.seen_offsets.front() != 0 ||
      s.seen_offsets.back() != static_cast<std::int64_t>(s.seen_items.size()) ||
      !std::is_sorted(s.seen_offsets.begin(), s.seen_offsets.end())) {
    corrupt(label_, "/serving/seen/offsets are not a valid CSR index");
  }
  for (std::int32_t i : s.seen_items) {
    if (i < 0 || i >= items) corrupt(label_, fmt::format("/serving/seen/items holds item {} outside [0, {})", i, items));
  }
  if (*scorer == "dot") {
    s.user_embeddings = read_f32("/serving/user_embeddings");
    s.item_embeddings = read_f32("/serving/item_embeddings");
    const auto users = static_cast<std::int64_t>(s.seen_offsets.size()) - 1;
    if (s.user_embeddings.ndim() != 2 || s.item_embeddings.ndim() != 2 || s.user_embeddings.size(0) != users ||
        s.item_embeddings.size(0) != items || s.user_embeddings.size(1) != s.item_embeddings.size(1)) {
      corrupt(label_, fmt::format("serving embeddings {} and {} do not match {} users and {} items",
                                  s.user_embeddings.shape().str(), s.item_embeddings.shape().str(), users, items));
    }
    // (Absent before 2026-12-07: no bias columns were told apart.)
    s.item_bias_columns = file_->int_attribute("/serving", "item_bias_columns").value_or(0);
    if (s.item_bias_columns < 0 || s.item_bias_columns >= s.item_embeddings.size(1)) {
      corrupt(label_, fmt::format("/serving item_bias_columns {} is outside [0, {})", s.item_bias_columns,
                                  s.item_embeddings.size(1)));
    }
  }
  return s;
}

MetricValues CheckpointReader::metrics() const {
  MetricValues out;
  if (!file_->exists("/metrics")) return out;
  for (const std::string& name : file_->attribute_names("/metrics")) {
    const auto v = file_->double_attribute("/metrics", name);
    if (v) out.emplace_back(name, *v);
  }
  return out;
}

}  // namespace recforge::checkpoint
