// Which signal dispositions the per-request child must reset (kStepSignals):
// the ones the daemon handles or ignores. No N-API here.
#ifndef LXNSD_NATIVE_SIGNAL_RESET_H_
#define LXNSD_NATIVE_SIGNAL_RESET_H_

#include <cstdint>

// Bit (sig - 1) set for each signal the daemon handles or ignores.
uint64_t SignalsToReset();

#endif  // LXNSD_NATIVE_SIGNAL_RESET_H_
