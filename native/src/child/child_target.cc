// The child's target steps (see ChildTarget in child_steps.h): become the
// target process, as `runc exec` does, before anything is joined or created.
// Same rules as child_steps.cc: raw system calls only, no libc, no errno.
#include <linux/capability.h>
#include <sys/prctl.h>

#include <cerrno>

#include "child/child_steps.h"
#include "child/raw_syscall.h"

namespace {

bool Failed(ChildControl* ctl, ChildSyscall sys, long ret) {
  ctl->syscall = sys;
  ctl->err = static_cast<int32_t>(-ret);
  return false;
}

long WriteOnce(int fd, const char* data, size_t len) {
  long r;
  do r = RawSyscall(SYS_write, fd, reinterpret_cast<long>(data), len);
  while (r == -EINTR);
  return r;
}

// capset(2) with the 64-bit (version 3) layout.
long Capset(uint64_t eff, uint64_t prm, uint64_t inh) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  data[0] = {static_cast<uint32_t>(eff), static_cast<uint32_t>(prm), static_cast<uint32_t>(inh)};
  data[1] = {static_cast<uint32_t>(eff >> 32), static_cast<uint32_t>(prm >> 32),
             static_cast<uint32_t>(inh >> 32)};
  return RawSyscall(SYS_capset, reinterpret_cast<long>(&header), reinterpret_cast<long>(data));
}

// The permitted set (capget), or -errno.
long Permitted(uint64_t* prm) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  long r = RawSyscall(SYS_capget, reinterpret_cast<long>(&header), reinterpret_cast<long>(data));
  *prm = data[0].permitted | (uint64_t{data[1].permitted} << 32);
  return r;
}

}  // namespace

bool EnterTarget(const ChildTarget* t, ChildControl* ctl) {
  // Its cgroups first, while we are still root in the daemon's view: the
  // parent opened every hierarchy's cgroup.procs; "0" moves the writer.
  ctl->step = kStepTargetCgroup;
  for (size_t i = 0; i < t->cgroup_count; i++) {
    ctl->step_index = static_cast<int32_t>(i);
    long r = WriteOnce(t->cgroup_fds[i], "0", 1);
    if (r < 0) return Failed(ctl, kSysWrite, r);
  }
  ctl->step_index = 0;

  // Its ids, as the daemon sees them (kernel ids): groups and gid keep
  // every capability, and KEEPCAPS keeps the permitted set across the uid
  // change, so the effective set can be raised again for setns. Entering a
  // user namespace then resets the capability sets (to full, in it) but
  // not the ids, which are the target's there too.
  ctl->step = kStepTargetIds;
  long r = RawSyscall(SYS_setgroups, t->group_count, reinterpret_cast<long>(t->groups));
  if (r < 0) return Failed(ctl, kSysSetgroups, r);
  r = RawSyscall(SYS_setresgid, t->gid, t->gid, t->gid);
  if (r < 0) return Failed(ctl, kSysSetresgid, r);
  r = RawSyscall(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0);
  if (r < 0) return Failed(ctl, kSysKeepCaps, r);
  r = RawSyscall(SYS_setresuid, t->uid, t->uid, t->uid);
  if (r < 0) return Failed(ctl, kSysSetresuid, r);
  uint64_t kept = 0;
  r = Permitted(&kept);
  if (r < 0) return Failed(ctl, kSysCapget, r);
  r = Capset(kept, kept, 0);
  if (r < 0) return Failed(ctl, kSysCapset, r);
  // The id change cleared PDEATHSIG: set it again (the parent is alive:
  // it holds our pidfd and waits for us).
  RawSyscall(SYS_prctl, PR_SET_PDEATHSIG, 9, 0, 0, 0);

  // Every namespace of the target that is not ours already, at once and
  // race-free against pid reuse (a pidfd, Linux >= 5.8).
  if (t->ns_flags != 0) {
    ctl->step = kStepTargetSetns;
    r = RawSyscall(SYS_setns, t->pidfd, t->ns_flags);
    if (r < 0) return Failed(ctl, kSysSetns, r);
  }

  // Its capability sets: the bounding set no wider than its own, then
  // exactly its permitted, effective and inheritable sets, ambient ones
  // only where it has them, no_new_privs when it has it.
  ctl->step = kStepTargetCaps;
  for (int cap = 0; cap <= t->cap_last && cap < 64; cap++) {
    if (t->cap_bnd & (uint64_t{1} << cap)) continue;
    r = RawSyscall(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0);
    if (r < 0) return Failed(ctl, kSysCapbsetDrop, r);
  }
  r = RawSyscall(SYS_prctl, PR_SET_KEEPCAPS, 0, 0, 0, 0);
  if (r < 0) return Failed(ctl, kSysKeepCaps, r);
  r = Capset(t->cap_eff & t->cap_prm, t->cap_prm, t->cap_inh & t->cap_bnd);
  if (r < 0) return Failed(ctl, kSysCapset, r);
  r = RawSyscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (r < 0) return Failed(ctl, kSysAmbient, r);
  for (int cap = 0; cap <= t->cap_last && cap < 64; cap++) {
    if ((t->cap_amb & (uint64_t{1} << cap)) == 0) continue;
    r = RawSyscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
    if (r < 0) return Failed(ctl, kSysAmbient, r);
  }
  if (t->no_new_privs) {
    r = RawSyscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (r < 0) return Failed(ctl, kSysNoNewPrivs, r);
  }
  return true;
}
