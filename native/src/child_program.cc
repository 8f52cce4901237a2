// The child side. Runs on its own small stack, possibly sharing the parent's
// memory (CLONE_VM): only raw system calls, no malloc, no locks, no errno,
// no exceptions, no library calls that could take a lock.
#include "child_program.h"

#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include <cerrno>

#include "compat.h"
#include "raw_syscall.h"

const char* const kChildStepNames[kStepCount] = {
    "start",       "reset signals", "setns",      "unshare",     "write uid_map",
    "write timens_offsets",         "start pid init",
    "exec pause",  "sethostname",   "loopback up", "write file", "read file",
    "debug sleep", "open ns",       "done",
};

const char* const kChildSyscallNames[kSysCount] = {
    "",
    "prctl(PR_SET_PDEATHSIG)",
    "getppid",
    "rt_sigaction",
    "rt_sigprocmask",
    "setns",
    "unshare",
    "send",
    "read",
    "open",
    "write",
    "sethostname",
    "socket",
    "ioctl(SIOCGIFFLAGS)",
    "ioctl(SIOCSIFFLAGS)",
    "nanosleep",
    "pipe2",
    "clone",
    "wait4",
    "dup3",
    "close_range",
    "execveat",
};

namespace {

// The kernel's struct sigaction (not glibc's): SIG_DFL needs no restorer.
struct KernelSigaction {
  void* handler;
  unsigned long flags;
  void* restorer;
  uint64_t mask;
};

[[noreturn]] void Exit(int code) {
  for (;;) RawSyscall(SYS_exit_group, code);
}

[[noreturn]] void Fail(ChildControl* ctl, ChildSyscall sys, long ret) {
  ctl->syscall = sys;
  ctl->err = static_cast<int32_t>(-ret);
  Exit(1);
}

void Check(ChildControl* ctl, ChildSyscall sys, long ret) {
  if (ret < 0) Fail(ctl, sys, ret);
}

void EnterStep(ChildControl* ctl, ChildStep step) {
  ctl->step = step;
}

long OpenAt(const char* path, int flags) {
  long r;
  do r = RawSyscall(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path), flags, 0);
  while (r == -EINTR);
  return r;
}

// Writes all of data to path with one open; loops over short writes.
void WritePath(ChildControl* ctl, const char* path, const char* data, size_t len) {
  long fd = OpenAt(path, O_WRONLY | O_CLOEXEC);
  Check(ctl, kSysOpen, fd);
  size_t done = 0;
  while (done < len) {
    long n = RawSyscall(SYS_write, fd, reinterpret_cast<long>(data + done), len - done);
    if (n == -EINTR) continue;
    Check(ctl, kSysWrite, n);
    if (n == 0) Fail(ctl, kSysWrite, -EIO);
    done += static_cast<size_t>(n);
  }
  RawSyscall(SYS_close, fd);
}

void ReadPath(ChildControl* ctl, const char* path, char* buf, size_t max) {
  long fd = OpenAt(path, O_RDONLY | O_CLOEXEC);
  Check(ctl, kSysOpen, fd);
  size_t done = 0;
  while (done < max) {
    long n = RawSyscall(SYS_read, fd, reinterpret_cast<long>(buf + done), max - done);
    if (n == -EINTR) continue;
    Check(ctl, kSysRead, n);
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  RawSyscall(SYS_close, fd);
  ctl->data_len = done;
}

// Tells the parent we are ready for its action and waits for kGoByte.
void SignalParentAndWait(const ChildProgram* p, uint32_t kind) {
  ChildMessage msg = {kind};
  long r;
  do r = RawSyscall(SYS_sendto, p->status_fd, reinterpret_cast<long>(&msg), sizeof msg,
                    MSG_NOSIGNAL, 0, 0);
  while (r == -EINTR);
  Check(p->ctl, kSysSend, r);
  char go = 0;
  do r = RawSyscall(SYS_read, p->status_fd, reinterpret_cast<long>(&go), 1);
  while (r == -EINTR);
  Check(p->ctl, kSysRead, r);
  if (r == 0 || go != kGoByte) Fail(p->ctl, kSysRead, -EPIPE);  // parent gave up
}

void ResetSignals(const ChildProgram* p) {
  // Die with the parent thread: a daemon crash must not leave a child
  // waiting; the getppid check closes the race with a parent that died first.
  Check(p->ctl, kSysPrctl, RawSyscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL));
  if (RawSyscall(SYS_getppid) != p->parent_pid) Fail(p->ctl, kSysGetppid, -ESRCH);
  // Node's handlers must never run here (they would touch the parent's
  // memory under CLONE_VM); ignored signals (SIGPIPE) go back to default.
  KernelSigaction dfl = {};
  for (int sig = 1; sig <= 64; sig++) {
    if ((p->reset_signals & (uint64_t{1} << (sig - 1))) == 0) continue;
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    Check(p->ctl, kSysRtSigaction,
          RawSyscall(SYS_rt_sigaction, sig, reinterpret_cast<long>(&dfl), 0, 8));
  }
  uint64_t none = 0;
  Check(p->ctl, kSysRtSigprocmask,
        RawSyscall(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&none), 0, 8));
}

void BringLoopbackUp(ChildControl* ctl) {
  long sock = RawSyscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  Check(ctl, kSysSocket, sock);
  struct ifreq ifr = {};
  ifr.ifr_name[0] = 'l';
  ifr.ifr_name[1] = 'o';
  Check(ctl, kSysIoctlGetFlags,
        RawSyscall(SYS_ioctl, sock, SIOCGIFFLAGS, reinterpret_cast<long>(&ifr)));
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  Check(ctl, kSysIoctlSetFlags,
        RawSyscall(SYS_ioctl, sock, SIOCSIFFLAGS, reinterpret_cast<long>(&ifr)));
  RawSyscall(SYS_close, sock);
}

void Sleep(ChildControl* ctl, uint32_t ms) {
  struct timespec ts = {static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000};
  long r;
  while ((r = RawSyscall(SYS_nanosleep, reinterpret_cast<long>(&ts),
                         reinterpret_cast<long>(&ts))) == -EINTR) {
  }
  Check(ctl, kSysNanosleep, r);
}

// The keeper init until it execs lxnsd-pause. Runs right after clone, on
// its own small stack, in the memory of the child (CLONE_VM: the daemon's
// own, for a CLONE_VM child) while the child is suspended (CLONE_VFORK):
// the same rules as the child, raw syscalls only, and the only write to
// shared memory is the failure report, which nobody reads concurrently.
// Keeps only the pipe's read end, as fd 0; every other fd is closed by the
// exec (the daemon's, copies of other keepers' write ends, which would
// otherwise keep those namespaces alive, and the pause fd itself: fine for
// an ELF file, only a script needs its fd after exec).
[[noreturn]] void KeeperInit(const ChildProgram* p) {
  ChildControl* ctl = p->ctl;
  ctl->step = kStepExecPause;  // the child is suspended: no race on ctl
  long rfd = p->keeper_read_fd;
  long r = rfd == 0 ? RawSyscall(SYS_fcntl, 0, F_SETFD, 0) : RawSyscall(SYS_dup3, rfd, 0, 0);
  Check(ctl, kSysDup3, r);
  r = RawSyscall(SYS_close_range, 1, 0xffffffffL, CLOSE_RANGE_CLOEXEC);
  if (r == -EINVAL) {  // before Linux 5.11: close all but the pause fd
    long pfd = p->pause_fd;
    if (pfd > 1) RawSyscall(SYS_close_range, 1, pfd - 1, 0);
    r = RawSyscall(SYS_close_range, pfd + 1, 0xffffffffL, 0);
  }
  Check(ctl, kSysCloseRange, r);
  // Survives execve (lxnsd-pause is neither setuid nor file-capable); the
  // program sets it again. Dispositions and mask are the child's: reset
  // and empty; lxnsd-pause ignores SIGCHLD itself.
  RawSyscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
  static const char* const kArgv[] = {"lxnsd-pause", nullptr};
  static const char* const kEnvp[] = {nullptr};
  r = RawSyscall(SYS_execveat, p->pause_fd, reinterpret_cast<long>(""),
                 reinterpret_cast<long>(kArgv), reinterpret_cast<long>(kEnvp), AT_EMPTY_PATH);
  Fail(ctl, kSysExecveat, r);
}

// Entry of the keeper init on its own stack (see RawCloneOnStack).
void KeeperInitEntry(const void* arg) {
  KeeperInit(static_cast<const ChildProgram*>(arg));
}

// Clones the keeper init, vfork-style: CLONE_VM (no copy of the daemon's
// page tables; the kernel refuses CLONE_VM into another pid namespace only
// with CLONE_THREAD, and into another time namespace only without
// CLONE_VFORK: a vfork child switches time namespace at exec) and
// CLONE_VFORK (we sleep until it has exec'd or exited, so it can report a
// failure through ChildControl). CLONE_PARENT makes it the daemon's child;
// CLONE_PARENT_SETTID makes the kernel store its pid (as the daemon sees
// it: the caller's active pid namespace is the daemon's) in the shared
// ChildControl before clone returns.
void StartKeeperInit(const ChildProgram* p) {
  ChildControl* ctl = p->ctl;
  long pid = RawCloneOnStack(CLONE_VM | CLONE_VFORK | CLONE_PARENT | CLONE_PARENT_SETTID | SIGCHLD,
                             p->init_stack_top, &ctl->init_pid, KeeperInitEntry, p);
  Check(ctl, kSysClone, pid);
  // The init failed before or at exec, recorded its step and errno, and
  // exited (the parent reaps it, as on any failure).
  if (ctl->err != 0) Exit(1);
  RawSyscall(SYS_close, p->keeper_read_fd);
}

}  // namespace

int ChildMain(void* arg) {
  const ChildProgram* p = static_cast<const ChildProgram*>(arg);
  ChildControl* ctl = p->ctl;
  // Our copy of the parent's end would hide the parent's EOF from us.
  if (p->parent_status_fd >= 0) RawSyscall(SYS_close, p->parent_status_fd);
  // Likewise the keeper's write end: only the daemon may hold it.
  if (p->keeper_write_fd >= 0) RawSyscall(SYS_close, p->keeper_write_fd);

  EnterStep(ctl, kStepSignals);
  ResetSignals(p);

  EnterStep(ctl, kStepSetns);
  for (size_t i = 0; i < p->join_count; i++) {
    ctl->step_index = static_cast<int32_t>(i);
    Check(ctl, kSysSetns, RawSyscall(SYS_setns, p->join[i].fd, p->join[i].nstype));
  }
  if (p->unshare_flags != 0) {
    EnterStep(ctl, kStepUnshare);
    Check(ctl, kSysUnshare, RawSyscall(SYS_unshare, p->unshare_flags));
  }
  if (p->wait_idmap) {
    EnterStep(ctl, kStepWaitIdmap);
    SignalParentAndWait(p, kMsgReadyForIdmap);
  }
  if (p->timens != nullptr) {
    EnterStep(ctl, kStepTimens);
    WritePath(ctl, "/proc/self/timens_offsets", p->timens, p->timens_len);
  }
  if (p->pid_init) {
    EnterStep(ctl, kStepPidInit);
    StartKeeperInit(p);
  }
  if (p->hostname != nullptr) {
    EnterStep(ctl, kStepHostname);
    Check(ctl, kSysSethostname,
          RawSyscall(SYS_sethostname, reinterpret_cast<long>(p->hostname), p->hostname_len));
  }
  if (p->loopback_up) {
    EnterStep(ctl, kStepLoopback);
    BringLoopbackUp(ctl);
  }
  if (p->write_path != nullptr) {
    EnterStep(ctl, kStepWriteFile);
    WritePath(ctl, p->write_path, p->write_data, p->write_len);
  }
  if (p->read_path != nullptr) {
    EnterStep(ctl, kStepReadFile);
    ReadPath(ctl, p->read_path, p->read_buf, p->read_max);
  }
  if (p->debug_sleep_ms != 0) {
    EnterStep(ctl, kStepDebugSleep);
    Sleep(ctl, p->debug_sleep_ms);
  }
  if (p->wait_hold) {
    EnterStep(ctl, kStepWaitHold);
    SignalParentAndWait(p, kMsgReadyForHold);
  }
  EnterStep(ctl, kStepDone);
  Exit(0);
}
