// A sysctl of a net, uts or ipc namespace read and written by a thread of
// the daemon that joined that namespace: setns(2) of these three types is
// allowed for one thread of a multi-threaded process, and the kernel takes
// /proc/sys/net, kernel.hostname/domainname and the ipc sysctls from the
// calling task's namespaces. Only for a fresh thread that ends right after
// (RunOnThreadOfItsOwn): the namespaces it joined die with it, no other
// code ever runs on it.
#ifndef LXNSD_NATIVE_SYSCTL_THREAD_H_
#define LXNSD_NATIVE_SYSCTL_THREAD_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "child/child_result.h"

// What one sysctl call does, in order: join, (sleep), write, read back.
struct SysctlRequest {
  int ns_fd = -1;  // the thread's own: closed once joined
  int nstype = 0;  // exactly one of CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC
  std::string path;  // /proc/sys/...
  bool write = false;
  std::string data;  // written whole when `write`
  size_t max = 0;    // most bytes read back
  uint32_t debug_sleep_ms = 0;  // tests only: a slow sysctl, after the join
};

// Whether nstype may be joined by a thread: CLONE_NEWNET, CLONE_NEWUTS or CLONE_NEWIPC alone.
bool ThreadMayJoin(int nstype);

// Runs `req` on the calling thread, which it leaves in the namespace, and
// closes req.ns_fd (the thread's own) once joined: the
// value read back in *out, or false with *failure set as the per-request
// child would report it (step "setns net", "write file", "read file";
// syscall setns, open, write or read; the path as target).
bool RunSysctlOnThisThread(const SysctlRequest& req, std::string* out, ChildFailure* failure);

#endif  // LXNSD_NATIVE_SYSCTL_THREAD_H_
