// RF_FAULT parsing and the process-level faults.
#include "recforge/core/fault.hpp"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <new>
#include <thread>

#include "recforge/core/error.hpp"
#include "recforge/log/logging.hpp"

namespace recforge::fault {

bool enabled_in_build() {
#ifdef RECFORGE_FAULT_INJECTION
  return true;
#else
  return false;
#endif
}

Fault parse(std::string_view text) {
  Fault f;
  std::size_t pos = 0;
  bool first = true;
  while (pos <= text.size()) {
    std::size_t end = text.find(':', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view part = text.substr(pos, end - pos);
    if (first) {
      f.kind = std::string(part);
      static const char* const kKinds[] = {"throw", "kill", "exit", "abort", "segv",     "stop",
                                           "nan",   "oom",  "skip_collective", "flip", "nan_grad", "huge_grad", "nan_param", "delay", "alloc"};
      bool known = false;
      for (const char* k : kKinds) known |= f.kind == k;
      RF_CHECK_KIND(ErrorKind::kConfig, known, "RF_FAULT: unknown fault '", f.kind,
                    "' (throw, kill, exit, abort, segv, stop, nan, oom, skip_collective, flip, nan_grad, huge_grad, nan_param, delay, "
                    "alloc)");
      first = false;
    } else {
      const std::size_t eq = part.find('=');
      RF_CHECK_KIND(ErrorKind::kConfig, eq != std::string_view::npos, "RF_FAULT: expected key=value, got '", part, "'");
      const std::string key(part.substr(0, eq)), value(part.substr(eq + 1));
      try {
        if (key == "rank") f.rank = std::stoi(value);
        else if (key == "step") f.step = std::stoll(value);
        else if (key == "phase") f.phase = value;
        else if (key == "attempt") f.attempt = std::stoi(value);
        else if (key == "ms") f.delay_ms = std::stoi(value);
        else if (key == "mb") f.alloc_mb = std::stoll(value);
        else RF_THROW(ErrorKind::kConfig, "RF_FAULT: unknown key '", key, "' (rank, step, phase, attempt, ms, mb)");
      } catch (const std::logic_error&) {
        RF_THROW(ErrorKind::kConfig, "RF_FAULT: '", value, "' is not a number for ", key);
      }
    }
    pos = end + 1;
  }
  return f;
}

const std::optional<Fault>& configured() {
  static const std::optional<Fault> fault = []() -> std::optional<Fault> {
    const char* text = std::getenv("RF_FAULT");
    if (!enabled_in_build() || text == nullptr || *text == '\0') return std::nullopt;
    Fault f = parse(text);
    // A restarted job (launch/restart.sh) counts its attempts from 0.
    const char* attempt = std::getenv("RECFORGE_RESTART_ATTEMPT");
    const int this_attempt = attempt != nullptr ? std::atoi(attempt) : 0;
    if (f.attempt >= 0 && f.attempt != this_attempt) return std::nullopt;
    return f;
  }();
  return fault;
}

namespace {

std::string trigger(const Fault& f, int rank, const std::string& where) {
  log::warn("RF_FAULT: injecting '{}' on rank {} at {}", f.kind, rank, where);
  if (f.kind == "throw") RF_THROW(ErrorKind::kInternal, "injected fault (RF_FAULT) on rank ", rank, " at ", where);
  if (f.kind == "oom") throw std::bad_alloc();
  if (f.kind == "kill") ::kill(::getpid(), SIGKILL);
  if (f.kind == "exit") std::exit(1);
  if (f.kind == "abort") std::abort();
  if (f.kind == "segv") std::raise(SIGSEGV);
  if (f.kind == "delay") {
    std::this_thread::sleep_for(std::chrono::milliseconds(f.delay_ms));
    return {};
  }
  if (f.kind == "alloc") {
    // A real allocation, left untouched: under ulimit -v it fails as a large
    // buffer would (std::bad_alloc from operator new); without a limit it
    // succeeds, which shows the limit, not the fault, ends the job.
    const std::unique_ptr<char[]> block(new char[static_cast<std::size_t>(f.alloc_mb) << 20]);
    volatile char* first = block.get();  // keeps the allocation from being elided
    *first = 1;
    return {};
  }
  if (f.kind == "stop") {
    ::kill(::getpid(), SIGSTOP);
    return {};
  }
  return f.kind;  // nan, nan_grad, huge_grad, nan_param, skip_collective, flip: the caller implements them
}

}  // namespace

std::string at_step(int rank, std::int64_t step) {
  const auto& f = configured();
  if (!f || !f->phase.empty() || f->step != step || (f->rank >= 0 && f->rank != rank)) return {};
  return trigger(*f, rank, "step " + std::to_string(step));
}

std::string at_phase(int rank, std::string_view phase, std::int64_t step) {
  const auto& f = configured();
  if (!f || f->phase != phase || (f->rank >= 0 && f->rank != rank)) return {};
  if (f->step >= 0 && step >= 0 && step < f->step) return {};
  return trigger(*f, rank, "phase " + std::string(phase));
}

}  // namespace recforge::fault
