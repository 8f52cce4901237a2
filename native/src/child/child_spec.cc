#include "child/child_spec.h"

#include <sched.h>

#include "compat.h"

// Why some children must not share memory (verified on kernel 6.18, see
// test/native/child-runner.test.ts "clone modes"):
// - setns(CLONE_NEWTIME) refuses with EUSERS unless the caller's mm is used
//   by no other process (timens_install -> current_is_single_threaded), and
//   a CLONE_VM child shares the daemon's mm.
// - unshare(CLONE_NEWTIME) only changes time_for_children and works from a
//   CLONE_VM child, as do setns/unshare of USER (userns_install only wants
//   a private fs_struct and thread group, which a CLONE_VM child without
//   CLONE_FS/CLONE_THREAD has) and every other type.
// A fork-style child copies the daemon's page tables (slower), so it is
// used only where it is needed.
bool NeedsForkStyle(const ChildSpec& spec) {
  if (spec.target.has && (spec.target.ns_flags & CLONE_NEWTIME)) return true;
  for (const ChildJoin& j : spec.join) {
    if (j.nstype & CLONE_NEWTIME) return true;
  }
  return false;
}

// An exec spec whose program can be the child itself: one that neither
// joins nor creates a pid or time namespace, the two that take effect only
// for the caller's children (pid_for_children, time_for_children).
bool ExecsDirectly(const ChildSpec& spec) {
  constexpr int kForChildren = CLONE_NEWPID | CLONE_NEWTIME;
  if (!spec.has_exec || (spec.unshare_flags & kForChildren) != 0) return false;
  if (spec.target.has && (spec.target.ns_flags & kForChildren) != 0) return false;
  for (const ChildJoin& j : spec.join) {
    if (j.nstype & kForChildren) return false;
  }
  return true;
}

bool WantsKeeper(const ChildSpec& spec) {
  if ((spec.unshare_flags & CLONE_NEWPID) == 0) return false;
  for (const std::string& name : spec.hold_ns) {
    if (name == "pid_for_children") return true;
  }
  return false;
}
