// `recforge export <checkpoint or run dir> -o OUT`: the newest verified
// version's embeddings and ids as files other tools read (NumPy, Faiss,
// pandas), in a new directory that appears whole or not at all:
//
//   OUT/user_embeddings.npy   (U, D) float32, row u = dense user u
//   OUT/item_embeddings.npy   (I, D) float32
//   OUT/users.txt, items.txt  the original ids, one per line, in row order
//   OUT/export.json           version, step, model, shapes, dataset fingerprint
//
// The checkpoint directory is only read (a trainer may be writing to it).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.hpp"
#include "recforge/checkpoint/checkpoint_file.hpp"
#include "recforge/checkpoint/repository.hpp"
#include "recforge/core/error.hpp"
#include "recforge/io/durable_file.hpp"
#include "recforge/log/logging.hpp"

namespace recforge::cli {
namespace {

namespace fs = std::filesystem;

// NumPy's .npy format 1.0: magic, version, header length, a Python dict
// literal padded with spaces to a multiple of 64 bytes, then the raw data.
std::string npy_of(const Tensor& matrix) {
  std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}",
                                   matrix.shape()[0], matrix.shape()[1]);
  const std::size_t preamble = 10;  // magic (6) + version (2) + length (2)
  header.append(63 - (preamble + header.size()) % 64, ' ');
  header.push_back('\n');
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(static_cast<const char*>(matrix.data()), matrix.nbytes());
  return out;
}

std::string ids_text(const data::IdMap& ids) {
  std::string out;
  for (std::int64_t i = 0; i < ids.size(); ++i) out += ids.text(static_cast<std::int32_t>(i)) + "\n";
  return out;
}

void export_embeddings(const std::string& source, const std::string& out) {
  const fs::path dir = checkpoint::checkpoint_dir_of(source);
  RF_CHECK_KIND(ErrorKind::kConfig, !fs::exists(out), "'", out,
                "' already exists; export writes a new directory (remove it or choose another -o)");
  const auto loaded = checkpoint::CheckpointRepository(dir.string()).require_latest();
  const std::string label = loaded.version.path + "/" + checkpoint::kCheckpointFile;
  const checkpoint::CheckpointReader reader(loaded.checkpoint_bytes, label);
  const checkpoint::Serving serving = reader.serving();
  RF_CHECK(serving.user_embeddings.defined() && serving.item_embeddings.defined(), label, ": the ",
           reader.meta().model_type, " model stores no user and item embeddings to export");
  const data::IdMap users = reader.users(), items = reader.items();

  nlohmann::ordered_json summary = {{"source", fs::absolute(dir).string()},
                                    {"version", loaded.version.name},
                                    {"step", loaded.manifest.step},
                                    {"epoch", loaded.manifest.epoch},
                                    {"model", reader.meta().model_type},
                                    {"users", users.size()},
                                    {"items", items.size()},
                                    {"dim", serving.user_embeddings.shape()[1]},
                                    {"item_bias_columns", serving.item_bias_columns},
                                    {"dataset_fingerprint", reader.meta().dataset_fingerprint}};
  // Everything goes into a temporary sibling first, renamed to OUT at the end.
  fs::path final_dir = fs::absolute(out).lexically_normal();
  if (final_dir.filename().empty()) final_dir = final_dir.parent_path();  // "-o dir/"
  const fs::path tmp = final_dir.parent_path() / (final_dir.filename().string() + ".tmp-" + std::to_string(getpid()));
  try {
    fs::create_directories(tmp);
    io::write_file_atomically((tmp / "user_embeddings.npy").string(), npy_of(serving.user_embeddings));
    io::write_file_atomically((tmp / "item_embeddings.npy").string(), npy_of(serving.item_embeddings));
    io::write_file_atomically((tmp / "users.txt").string(), ids_text(users));
    io::write_file_atomically((tmp / "items.txt").string(), ids_text(items));
    io::write_file_atomically((tmp / "export.json").string(), summary.dump(2) + "\n");
    io::rename_durably(tmp.string(), final_dir.string());
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    throw;
  }
  std::printf("exported %s (step %lld): %lld users and %lld items of dimension %lld into %s\n",
              loaded.version.name.c_str(), static_cast<long long>(loaded.manifest.step),
              static_cast<long long>(users.size()), static_cast<long long>(items.size()),
              static_cast<long long>(serving.user_embeddings.shape()[1]), out.c_str());
}

}  // namespace

void add_export_command(CLI::App& app, const GlobalOptions&) {
  struct Options {
    std::string source, out;
  };
  auto options = std::make_shared<Options>();
  CLI::App* exp = app.add_subcommand(
      "export", "export the newest checkpoint's user and item embeddings and ids (.npy, .txt) for other tools");
  exp->add_option("dir", options->source, "a checkpoint directory or a run directory (runs/<name>)")->required();
  exp->add_option("-o,--out", options->out, "the directory to create (must not exist)")
      ->required()
      ->check(CLI::Validator([](std::string& v) { return v.empty() ? std::string("an empty path") : std::string(); },
                             "PATH", "non-empty"));
  exp->callback([options] { export_embeddings(options->source, options->out); });
}

}  // namespace recforge::cli
