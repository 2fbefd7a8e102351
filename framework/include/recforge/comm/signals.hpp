// Graceful stop on SIGUSR1 (mpirun forwards it to every rank; SIGTERM becomes
// SIGKILL a few seconds later, so it is not used for this). The handler only
// sets a flag; the trainer agrees on stopping collectively at the end of a step.
#pragma once

namespace recforge {

void install_stop_signal_handler();
bool stop_requested();
void request_stop();        // the same as receiving the signal (tests)
void clear_stop_request();  // tests

}  // namespace recforge
