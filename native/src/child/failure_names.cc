#include "child/failure_names.h"

#include <cerrno>
#include <cstring>

#include "ns_table.h"

std::string NsNames(int flags) {
  std::string out;
  for (const NsTypeInfo& t : kNsTypes) {
    if ((flags & t.clone_flag) == 0) continue;
    if (!out.empty()) out += "+";
    out += t.name;
  }
  return out.empty() ? "any" : out;
}

std::string StepName(const ChildSpec& spec, int step, int index) {
  if (step == kStepSetns && index >= 0 && static_cast<size_t>(index) < spec.join.size()) {
    return "setns " + NsNames(spec.join[index].nstype);
  }
  if (step >= 0 && step < kStepCount) return kChildStepNames[step];
  return "step " + std::to_string(step);
}

ChildFailure ChildReportedFailure(const ChildSpec& spec, const ChildControl& ctl, const std::string& pause_path) {
  ChildFailure f;
  f.err = ctl.err;
  int sys = ctl.syscall;
  f.syscall = (sys > 0 && sys < kSysCount) ? kChildSyscallNames[sys] : "unknown";
  f.step = StepName(spec, ctl.step, ctl.step_index);
  switch (ctl.step) {
    case kStepSetns:
      f.target = NsNames(spec.join[ctl.step_index].nstype);
      break;
    case kStepTimens:
      f.target = "/proc/self/timens_offsets";
      break;
    case kStepTargetCgroup: {
      size_t i = static_cast<size_t>(ctl.step_index);
      f.target = "cgroup.procs #" + std::to_string(i);
      break;
    }
    case kStepTargetSetns:
      f.target = NsNames(spec.target.ns_flags);
      break;
    case kStepWriteFile:
      f.target = spec.write_path;
      break;
    case kStepReadFile:
      f.target = spec.read_path;
      break;
    case kStepCreateTarget:
    case kStepMoveMount:
      f.target = spec.move_target;
      break;
    case kStepLoopback:
      f.target = "lo";
      break;
    case kStepExecPause:
      f.target = pause_path;
      break;
    case kStepMountProc:
      f.target = "/proc";
      break;
    case kStepTerminal:
      f.target = "/dev/pts/ptmx";
      break;
    case kStepChdir:
      f.target = spec.exec.cwd;
      break;
    case kStepExecve:
      for (const std::string& c : spec.exec.candidates) f.target += (f.target.empty() ? "" : ":") + c;
      break;
    default:
      break;
  }
  return f;
}

ChildFailure ChildDeathFailure(const siginfo_t& info, const ChildSpec& spec, const ChildControl& ctl) {
  bool signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
  ChildFailure f = {ECHILD, "waitid", "", "", ""};
  f.step = std::string(signaled ? "child died: signal " : "child exited: status ") + std::to_string(info.si_status);
  f.detail = f.step + " in step " + CurrentStep(spec, ctl);
  return f;
}

ChildFailure PauseMissingFailure(const PauseProgram& pause) {
  return {pause.err, "open", pause.path, kChildStepNames[kStepExecPause],
          std::string(std::strerror(pause.err)) +
              "; lxnsd-pause, the keeper of a held pid namespace, is built with the "
              "addon (node-gyp rebuild --directory native)"};
}

ChildFailure TimeoutFailure(const std::string& step, uint32_t ms) {
  return {ETIMEDOUT, "runChild", "", step, "timed out after " + std::to_string(ms) + " ms in step " + step};
}

ChildFailure CancelFailure(const std::string& step) {
  return {ECANCELED, "runChild", "", step, "cancelled in step " + step};
}
