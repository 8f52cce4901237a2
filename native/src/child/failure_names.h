// Naming a per-request child's failure: its step, syscall and target, in
// the fields NativeError carries (the addon builds the error from them).
// No N-API here.
#ifndef LXNSD_NATIVE_FAILURE_NAMES_H_
#define LXNSD_NATIVE_FAILURE_NAMES_H_

#include <signal.h>

#include <cstdint>
#include <string>

#include "child/child_protocol.h"
#include "child/child_result.h"
#include "child/child_spec.h"
#include "child/pause_program.h"

// "net+uts" for CLONE_NEWNET|CLONE_NEWUTS; "any" for none.
std::string NsNames(int flags);
// The name of child step `step` ("setns <type>" for the index-th join).
std::string StepName(const ChildSpec& spec, int step, int index);
// The step the child recorded last in `ctl`.
inline std::string CurrentStep(const ChildSpec& spec, const ChildControl& ctl) {
  return StepName(spec, ctl.step, ctl.step_index);
}
// The failure the child recorded in `ctl` (it exited 1), with its target.
ChildFailure ChildReportedFailure(const ChildSpec& spec, const ChildControl& ctl, const std::string& pause_path);
// The child died (a signal) or exited with no failure recorded.
ChildFailure ChildDeathFailure(const siginfo_t& info, const ChildSpec& spec, const ChildControl& ctl);
// lxnsd-pause could not be opened at load, and the spec needs a keeper.
ChildFailure PauseMissingFailure(const PauseProgram& pause);
// The run's timer expired / it was cancelled, in step `step`.
ChildFailure TimeoutFailure(const std::string& step, uint32_t ms);
ChildFailure CancelFailure(const std::string& step);

#endif  // LXNSD_NATIVE_FAILURE_NAMES_H_
