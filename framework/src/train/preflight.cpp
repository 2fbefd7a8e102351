// Preflight checks (see preflight.hpp).
#include "recforge/train/preflight.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "recforge/core/cuda_runtime.hpp"
#include "recforge/core/fault.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/data/prepare.hpp"

namespace recforge {
namespace {

// Gathers one line per rank; the check passes when every rank said "".
PreflightCheck agree(Communicator& comm, const std::string& name, const std::string& my_problem, ErrorKind kind) {
  const auto problems = comm.allgather_string(my_problem);
  PreflightCheck check{name, true, "", kind};
  for (std::size_t r = 0; r < problems.size(); ++r) {
    if (problems[r].empty()) continue;
    check.ok = false;
    check.detail += fmt::format("{}rank {}: {}", check.detail.empty() ? "" : "; ", r, problems[r]);
  }
  return check;
}

std::string readable(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return path + " is a directory";
  if (!std::filesystem::exists(path, ec)) return path + " does not exist";
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot open " + path;
  char byte = 0;
  if (!in.read(&byte, 1)) return path + " is empty or unreadable";
  return {};
}

}  // namespace

std::vector<PreflightCheck> run_preflight(const ConfigNode& job, Communicator& comm, Device device,
                                          const Resources& resources, bool measure_bandwidth) {
  std::vector<PreflightCheck> checks;
  std::string device_problem;
  if (device.is_cuda() && device.index >= cuda::device_count()) {
    device_problem = "does not see " + device.str() + " (" + std::to_string(cuda::device_count()) + " visible)";
  }
  PreflightCheck d = agree(comm, "device", device_problem, ErrorKind::kCuda);
  if (d.ok) d.detail = device.is_cuda() ? cuda::describe_device(device.index) : "cpu";
  checks.push_back(d);
  if (!d.ok) return checks;

  // Known answer: element i of rank r holds (r + 1) * (i % 7 + 1).
  constexpr std::int64_t kElements = 1 << 16;
  std::vector<float> values(kElements);
  for (std::int64_t i = 0; i < kElements; ++i) values[static_cast<std::size_t>(i)] = static_cast<float>((comm.rank() + 1) * (i % 7 + 1));
  Tensor t = Tensor::from_vector(values).to(device, resources.stream());
  comm.allreduce(t, ReduceOp::kSum);
  const Tensor back = t.to(Device::cpu(), resources.stream());
  resources.synchronize();
  const float ranks = static_cast<float>(comm.world_size() * (comm.world_size() + 1) / 2);
  std::string wrong;
  for (std::int64_t i = 0; i < kElements && wrong.empty(); ++i) {
    const float expected = ranks * static_cast<float>(i % 7 + 1);
    if (back.data_as<float>()[i] != expected) {
      wrong = fmt::format("element {} is {} instead of {}", i, back.data_as<float>()[i], expected);
    }
  }
  PreflightCheck a =
      agree(comm, std::string("allreduce (") + std::string(comm.backend()) + ")", wrong, ErrorKind::kCommunication);
  if (a.ok) a.detail = fmt::format("{} x f32 sum over {} rank(s) correct", kElements, comm.world_size());
  checks.push_back(a);

  if (measure_bandwidth && comm.world_size() > 1) {
    const std::int64_t n = 16 << 20;  // 64 MiB
    Tensor big = Tensor::zeros({n}, DType::kF32, device, resources.stream());
    comm.allreduce(big, ReduceOp::kSum);  // warm-up
    double best = 1e30;
    for (int repeat = 0; repeat < 3; ++repeat) {
      comm.barrier();
      const auto start = std::chrono::steady_clock::now();
      comm.allreduce(big, ReduceOp::kSum);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    best = comm.allreduce_double(best, ReduceOp::kMax);
    const double algorithmic = static_cast<double>(n) * 4 / best / 1e9;
    const double bus = algorithmic * 2.0 * (comm.world_size() - 1) / comm.world_size();
    checks.push_back({"bandwidth", true, fmt::format("64 MiB all-reduce in {:.1f} ms: {:.2f} GB/s algorithmic, "
                                                     "{:.2f} GB/s bus", best * 1e3, algorithmic, bus)});
  }

  const ConfigNode& data = job.section("data");
  fault::at_phase(comm.rank(), "preflight_data");  // tests stop a rank here (a hung file system)
  std::string data_problem;
  std::int64_t unnamed = 0;  // a path this rank could not expand (a config error)
  std::vector<std::pair<const ConfigNode*, std::string>> inputs;  // (section, key name for messages)
  if (data.get_string("format") != "synthetic") inputs = {{&data, "data.path"}, {&data, "data.test_path"}};
  inputs.emplace_back(&data.section("item_features"), "data.item_features.path");
  for (const auto& [section, name] : inputs) {
    const std::string key = name.substr(name.rfind('.') + 1);
    if ((*section)[key].is_null()) continue;
    try {
      const std::string problem = readable(data::expand_path(section->get_string(key), name));
      if (!problem.empty()) data_problem += (data_problem.empty() ? "" : "; ") + problem;
    } catch (const Error& e) {
      data_problem += e.message();
      if (e.kind() == ErrorKind::kConfig) unnamed = 1;
    }
  }
  unnamed = comm.allreduce_int(unnamed, ReduceOp::kMax);
  PreflightCheck files = agree(comm, "data files", data_problem, unnamed > 0 ? ErrorKind::kConfig : ErrorKind::kData);
  if (files.ok) files.detail = data.get_string("format") == "synthetic" ? "synthetic (generated in memory)" : "readable on every rank";
  checks.push_back(files);
  return checks;
}

void require_preflight_passed(const std::vector<PreflightCheck>& checks, bool table_printed) {
  const auto failed = std::find_if(checks.begin(), checks.end(), [](const PreflightCheck& c) { return !c.ok; });
  if (failed == checks.end()) return;
  RF_THROW_AGREED(failed->kind, "preflight failed: ", failed->name,
                  table_printed ? " (see the table above)" : ":\n" + format_preflight(checks));
}

std::string format_preflight(const std::vector<PreflightCheck>& checks) {
  std::string out;
  for (const PreflightCheck& c : checks) out += fmt::format("  {:<18} {:<4} {}\n", c.name, c.ok ? "ok" : "FAIL", c.detail);
  return out;
}

}  // namespace recforge
