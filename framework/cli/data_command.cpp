// `recforge data prepare|generate`: prepare (and cache) the data of a job config,
// or write synthetic MovieLens-shaped data in a reader format.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "commands.hpp"
#include "recforge/config/job_config.hpp"
#include "recforge/core/error.hpp"
#include "recforge/data/generator.hpp"
#include "recforge/data/prepare.hpp"
#include "recforge/io/paths.hpp"
#include "recforge/log/logging.hpp"

namespace recforge::cli {

void add_data_command(CLI::App& app, const GlobalOptions& global) {
  CLI::App* data = app.add_subcommand("data", "prepare and generate datasets (MovieLens formats, "
                                              "adjacency splits, synthetic presets)");
  data->require_subcommand(1);

  struct PrepareOptions {
    std::string file;
    std::vector<std::string> overrides;
  };
  auto prepare_options = std::make_shared<PrepareOptions>();
  CLI::App* prepare = data->add_subcommand(
      "prepare", "read, validate, filter and split the data of a config's `data:` section, cache it, and print counts");
  prepare->add_option("config", prepare_options->file, "YAML config with a data section")->required();
  prepare->add_option("--set", prepare_options->overrides, "override a key: --set data.path=ratings.csv");
  prepare->callback([prepare_options, &global] {
    const ConfigNode config = load_job_config(prepare_options->file, prepare_options->overrides, global.plugins);
    log::set_level(log::parse_level(global.log_level.empty() ? config.section("run").get_string("log_level")
                                                             : global.log_level));
    data::PrepareReport report;
    const data::Dataset dataset = data::prepare_dataset(
        config.section("data"), static_cast<std::uint64_t>(config.section("run").get_int("seed")), &report);
    std::printf("%s\n", data::describe_dataset(dataset).c_str());
    std::printf("fingerprint %s\n", dataset.fingerprint.c_str());
    if (report.cache_path.empty()) {
      std::printf("cache off (data.cache: false), prepared in %.2f s\n", report.seconds);
    } else if (!report.cache_error.empty()) {
      std::printf("no cache written (%s), prepared in %.2f s\n", report.cache_error.c_str(), report.seconds);
    } else {
      std::printf("cache %s (%s, %.2f s)\n", report.cache_path.c_str(), report.from_cache ? "loaded" : "written",
                  report.seconds);
    }
  });

  struct GenerateOptions {
    std::string preset = "ml1m";
    std::string out;
    std::string format = "movielens_csv";
    std::uint64_t seed = 42;
    bool force = false;
  };
  auto gen = std::make_shared<GenerateOptions>();
  CLI::App* generate = data->add_subcommand(
      "generate", "write synthetic MovieLens-shaped interactions (Zipf popularity, long-tailed users, latent topics)");
  generate->add_option("--preset", gen->preset, "ml25m, ml1m, ml100k or tiny")->capture_default_str();
  generate->add_option("--out", gen->out, "output directory")->required();
  generate->add_option("--format", gen->format, "movielens_csv (ratings.csv), movielens_dat (ratings.dat), "
                                                "movielens_100k (u.data)")
      ->check(CLI::IsMember({"movielens_csv", "movielens_dat", "movielens_100k"}))
      ->capture_default_str();
  generate->add_option("--seed", gen->seed, "random seed")->check(CLI::NonNegativeNumber)->capture_default_str();
  generate->add_flag("--force", gen->force, "replace the file if --out already holds one");
  generate->callback([gen] {
    RF_CHECK_KIND(ErrorKind::kConfig, !gen->out.empty(), "--out: an output directory is required");
    RF_CHECK_KIND(ErrorKind::kConfig, io::absent_or_directory(gen->out), "--out ", gen->out,
                  " exists and is not a directory");
    const data::Format format = data::parse_format(gen->format);
    const char* name = format == data::Format::kMovieLensCsv   ? "ratings.csv"
                       : format == data::Format::kMovieLensDat ? "ratings.dat"
                       : format == data::Format::kMovieLens100k ? "u.data"
                                                                : "ratings.csv";
    const auto start = std::chrono::steady_clock::now();
    const data::GeneratorPreset preset = data::generator_preset(gen->preset);
    const data::RawInteractions rows = data::generate_interactions(preset, gen->seed);
    const std::string path = (std::filesystem::path(gen->out) / name).string();
    RF_CHECK_KIND(ErrorKind::kConfig, gen->force || !std::filesystem::exists(path), path,
                  " already exists; pass --force to replace it");
    data::write_interactions(rows, path, format);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("wrote %s: %lld interactions, %d users, %d items (preset %s, seed %llu) in %.1f s\n", path.c_str(),
                static_cast<long long>(rows.report.rows), preset.users, preset.items, preset.name.c_str(),
                static_cast<unsigned long long>(gen->seed), seconds);
  });
}

}  // namespace recforge::cli
