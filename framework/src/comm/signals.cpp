// SIGUSR1 -> a stop flag the trainer polls (async-signal-safe: one atomic store).
#include "recforge/comm/signals.hpp"

#include <atomic>
#include <csignal>

namespace recforge {
namespace {
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);
void on_training_stop_signal(int) { g_stop.store(true, std::memory_order_relaxed); }
}  // namespace

void install_stop_signal_handler() {
  struct sigaction action {};
  action.sa_handler = on_training_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &action, nullptr);
}

bool stop_requested() { return g_stop.load(std::memory_order_relaxed); }
void request_stop() { g_stop.store(true); }
void clear_stop_request() { g_stop.store(false); }

}  // namespace recforge
