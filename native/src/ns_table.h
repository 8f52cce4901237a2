// The one ordered table of namespace types, shared (by content and order)
// with the proto enum NamespaceType and native/lib/ns-types.ts NS_TYPES.
//
// Order = join order, as lxns's ALL_NAMESPACE_CLASSES and nsenter: USER
// first, because joining (or owning) the user namespace is what grants the
// capabilities needed to join the others when the caller is not root in
// their owning namespace; the rest follow the proto enum.
#ifndef LXNSD_NATIVE_NS_TABLE_H_
#define LXNSD_NATIVE_NS_TABLE_H_

#include <cstring>

#include "compat.h"

struct NsTypeInfo {
  const char* name;  // entry under /proc/PID/ns/
  int clone_flag;    // CLONE_NEW* value, also the setns nstype and NS_GET_NSTYPE result
};

inline constexpr NsTypeInfo kNsTypes[] = {
    {"user", CLONE_NEWUSER}, {"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC},
    {"net", CLONE_NEWNET},   {"mnt", CLONE_NEWNS},        {"pid", CLONE_NEWPID},
    {"time", CLONE_NEWTIME}, {"uts", CLONE_NEWUTS},
};

inline constexpr int kAllNsFlags = CLONE_NEWUSER | CLONE_NEWCGROUP | CLONE_NEWIPC |
                                   CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID |
                                   CLONE_NEWTIME | CLONE_NEWUTS;

// The table row for a CLONE_NEW* flag, or nullptr.
inline const NsTypeInfo* NsTypeByFlag(int flag) {
  for (const NsTypeInfo& t : kNsTypes) {
    if (t.clone_flag == flag) return &t;
  }
  return nullptr;
}

// Names a caller may ask to hold under /proc/CHILD/ns/: the 8 types plus the
// two "for children" links that unshare(PID|TIME) changes, and "root"
// (/proc/CHILD/root: the root of the mount namespace the child joined, for
// FileService). An allowlist, so a name can never walk out of /proc/CHILD.
inline bool IsHoldableNsName(const char* name) {
  for (const NsTypeInfo& t : kNsTypes) {
    if (std::strcmp(t.name, name) == 0) return true;
  }
  return std::strcmp(name, "pid_for_children") == 0 || std::strcmp(name, "root") == 0 ||
         std::strcmp(name, "time_for_children") == 0;
}

#endif  // LXNSD_NATIVE_NS_TABLE_H_
