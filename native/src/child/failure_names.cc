#include "child/failure_names.h"

#include <cerrno>
#include <cstring>

#include <sys/stat.h>

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

namespace {

// The inode of the namespace behind join fd `fd` (its id, as lsns shows
// it), or 0.
uint64_t NsId(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
}

// "EPERM" (glibc's name for the errno; the number when it has none).
std::string ErrnoText(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "E" + std::to_string(err);
}

// The user namespace join that succeeded before the failing join `index`,
// or nullptr: the failure happened with that namespace's privileges only.
const ChildJoin* UserJoinedBefore(const ChildSpec& spec, const ChildControl& ctl, int index) {
  int user = ctl.joined_user - 1;
  if (user < 0 || user == index || static_cast<size_t>(user) >= spec.join.size()) return nullptr;
  return &spec.join[user];
}

}  // namespace

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
    case kStepSetns: {
      std::string type = NsNames(spec.join[ctl.step_index].nstype);
      f.target = type;
      const ChildJoin* user = UserJoinedBefore(spec, ctl, ctl.step_index);
      if (user == nullptr) break;
      // nsenter's second pass: the join was retried after the user
      // namespace's and failed again; say what was tried.
      std::string joined = "joined user namespace " + std::to_string(NsId(user->fd));
      f.step = joined + ", then " + f.step;
      f.detail = joined + ", then setns(" + type + ") " + ErrnoText(ctl.err) + ": " +
                 (ctl.err == EPERM ? "the " + type + " namespace is owned by a user namespace the program is not privileged in"
                                   : std::string(std::strerror(ctl.err)));
      break;
    }
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
