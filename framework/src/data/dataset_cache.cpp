// The dataset cache: one HDF5 file per prepared dataset.
//
//   /                 attrs: format "recforge-dataset", version, name, fingerprint, options (YAML)
//   /ids/users        i64 original ids, or /ids/users.bytes + /ids/users.offsets for strings
//   /ids/items        same
//   /<split>/user     i32 dense ids (split = train, valid, test)
//   /<split>/item     i32
//   /<split>/rating   f32 (absent when the source has no ratings)
//   /<split>/timestamp i64 (absent when the source has no timestamps)
#include <unistd.h>

#include <filesystem>

#include "io/hdf5_file.hpp"
#include "recforge/core/error.hpp"
#include "recforge/data/prepare.hpp"

namespace recforge::data {
namespace {

void write_ids(io::H5File& file, const std::string& name, const IdMap& ids) {
  if (ids.is_integer()) {
    file.write(name, ids.integer_ids());
  } else {
    file.write_strings(name, ids.string_ids());
  }
}

IdMap read_ids(const io::H5File& file, const std::string& name) {
  if (file.exists(name)) return IdMap::integers(file.read<std::int64_t>(name));
  return IdMap::strings(file.read_strings(name));
}

void write_table(io::H5File& file, const std::string& group, const InteractionTable& t) {
  file.create_group(group);
  file.write(group + "/user", t.user);
  file.write(group + "/item", t.item);
  if (t.has_ratings()) file.write(group + "/rating", t.rating);
  if (t.has_timestamps()) file.write(group + "/timestamp", t.timestamp);
}

InteractionTable read_table(const io::H5File& file, const std::string& group) {
  InteractionTable t;
  t.user = file.read<std::int32_t>(group + "/user");
  t.item = file.read<std::int32_t>(group + "/item");
  if (file.exists(group + "/rating")) t.rating = file.read<float>(group + "/rating");
  if (file.exists(group + "/timestamp")) t.timestamp = file.read<std::int64_t>(group + "/timestamp");
  RF_CHECK_KIND(ErrorKind::kData, t.item.size() == t.user.size() && (t.rating.empty() || t.rating.size() == t.user.size()) &&
                                      (t.timestamp.empty() || t.timestamp.size() == t.user.size()),
                file.path(), ": columns of ", group, " differ in length");
  return t;
}

}  // namespace

void save_dataset(const Dataset& dataset, const std::string& path, const std::string& options_yaml) {
  // A directory that cannot be made or written is an Error (prepare then
  // goes on uncached), not a filesystem_error that would end the job.
  const std::filesystem::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path(), ec);
  RF_CHECK_KIND(ErrorKind::kIo, !ec, "cannot create the cache directory ", target.parent_path().string(), ": ",
                ec.message());
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  try {
    {
      io::H5File file = io::H5File::create(temp);
      file.set_attribute("/", "format", std::string("recforge-dataset"));
      file.set_attribute("/", "version", kDatasetCacheVersion);
      file.set_attribute("/", "name", dataset.name);
      file.set_attribute("/", "fingerprint", dataset.fingerprint);
      file.set_attribute("/", "options", options_yaml);
      file.create_group("/ids");
      write_ids(file, "/ids/users", dataset.users);
      write_ids(file, "/ids/items", dataset.items);
      write_table(file, "/train", dataset.train);
      write_table(file, "/valid", dataset.valid);
      write_table(file, "/test", dataset.test);
      file.flush();
    }
    std::filesystem::rename(temp, path, ec);
    RF_CHECK_KIND(ErrorKind::kIo, !ec, "cannot move ", temp, " to ", path, ": ", ec.message());
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    throw;
  }
}

Dataset load_dataset(const std::string& path) {
  const io::H5File file = io::H5File::open_read(path);
  RF_CHECK_KIND(ErrorKind::kData, file.string_attribute("/", "format") == "recforge-dataset", path,
                " is not a recforge dataset cache");
  const auto version = file.int_attribute("/", "version").value_or(-1);
  RF_CHECK_KIND(ErrorKind::kData, version == kDatasetCacheVersion, path, ": dataset cache version ", version,
                ", this recforge reads version ", kDatasetCacheVersion);
  Dataset d;
  d.name = file.string_attribute("/", "name").value_or("");
  d.fingerprint = file.string_attribute("/", "fingerprint").value_or("");
  d.users = read_ids(file, "/ids/users");
  d.items = read_ids(file, "/ids/items");
  d.train = read_table(file, "/train");
  d.valid = read_table(file, "/valid");
  d.test = read_table(file, "/test");
  for (const InteractionTable* t : {&d.train, &d.valid, &d.test}) {
    for (std::size_t i = 0; i < t->user.size(); ++i) {
      RF_CHECK_KIND(ErrorKind::kData, t->user[i] >= 0 && t->user[i] < d.num_users() && t->item[i] >= 0 &&
                                          t->item[i] < d.num_items(),
                    path, ": interaction ", i, " refers to an id outside the id maps");
    }
  }
  return d;
}

}  // namespace recforge::data
