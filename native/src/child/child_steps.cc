// The child side. Runs on its own small stack, possibly sharing the parent's
// memory (CLONE_VM): only raw system calls, no malloc, no locks, no errno,
// no exceptions, no library calls that could take a lock.
#include "child/child_steps.h"

#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include <cerrno>

#include "compat.h"
#include "child/child_terminal.h"
#include "child/raw_syscall.h"

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

// Writes all of data to path (relative to dir) with one open; loops over
// short writes.
void WritePath(ChildControl* ctl, const char* path, const char* data, size_t len,
               int dir = AT_FDCWD) {
  long fd;
  do fd = RawSyscall(SYS_openat, dir, reinterpret_cast<long>(path), O_WRONLY | O_CLOEXEC, 0);
  while (fd == -EINTR);
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
void SignalParentAndWait(const ChildSteps* p, uint32_t kind) {
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

void ResetSignals(const ChildSteps* p) {
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

// Whether the user namespace of the calling process denies setgroups:
// self/setgroups under proc_fd (the daemon's /proc, which shows every
// process the daemon's children start) reads "deny". False when it cannot
// be read.
bool SetgroupsDenied(int proc_fd) {
  if (proc_fd < 0) return false;
  long fd;
  do fd = RawSyscall(SYS_openat, proc_fd, reinterpret_cast<long>("self/setgroups"), O_RDONLY | O_CLOEXEC, 0);
  while (fd == -EINTR);
  if (fd < 0) return false;
  char buf[8] = {};
  long n;
  do n = RawSyscall(SYS_read, fd, reinterpret_cast<long>(buf), sizeof buf);
  while (n == -EINTR);
  RawSyscall(SYS_close, fd);
  return n >= 4 && buf[0] == 'd' && buf[1] == 'e' && buf[2] == 'n' && buf[3] == 'y';
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
[[noreturn]] void KeeperInit(const ChildSteps* p) {
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
  // and empty.
  RawSyscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
  // SIGCHLD ignored from before the exec (an ignored signal stays ignored
  // across execve), so the kernel reaps an orphan reparented to this init
  // even before lxnsd-pause's own sigaction has run; from runChild's answer
  // on, the init is as it will stay. lxnsd-pause sets it again.
  KernelSigaction ign = {};
  ign.handler = reinterpret_cast<void*>(SIG_IGN);
  Check(ctl, kSysRtSigaction, RawSyscall(SYS_rt_sigaction, SIGCHLD, reinterpret_cast<long>(&ign), 0, 8));
  static const char* const kArgv[] = {"lxnsd-pause", nullptr};
  static const char* const kEnvp[] = {nullptr};
  r = RawSyscall(SYS_execveat, p->pause_fd, reinterpret_cast<long>(""),
                 reinterpret_cast<long>(kArgv), reinterpret_cast<long>(kEnvp), AT_EMPTY_PATH);
  Fail(ctl, kSysExecveat, r);
}

// Entry of the keeper init on its own stack (see RawCloneOnStack).
void KeeperInitEntry(const void* arg) {
  KeeperInit(static_cast<const ChildSteps*>(arg));
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
void StartKeeperInit(const ChildSteps* p) {
  ChildControl* ctl = p->ctl;
  long pid = RawCloneOnStack(CLONE_VM | CLONE_VFORK | CLONE_PARENT | CLONE_PARENT_SETTID | SIGCHLD,
                             p->init_stack_top, &ctl->init_pid, KeeperInitEntry, p);
  Check(ctl, kSysClone, pid);
  // The init failed before or at exec, recorded its step and errno, and
  // exited (the parent reaps it, as on any failure).
  if (ctl->err != 0) Exit(1);
  RawSyscall(SYS_close, p->keeper_read_fd);
}

// The program until it execs. Run by the child itself when the spec
// neither joins nor creates a pid or time namespace (exec_direct: the
// child's end of the status pipe or socket, close-on-exec, tells the
// daemon that execve happened). Otherwise, like the keeper init: cloned by the child with
// CLONE_VM|CLONE_VFORK|CLONE_PARENT onto its own stack, so it shares the
// child's memory (the daemon's, for a CLONE_VM child), the child sleeps
// until it has exec'd or exited, and it is the daemon's own child (reaped
// by the daemon through a pidfd; no process waits in between). It inherits
// the child's namespaces, with pid_for_children and time_for_children
// taking effect for it (a vfork child enters the new time namespace at
// exec), reset signal dispositions and an empty mask. A failure is recorded
// in ChildControl {step, syscall, errno} (the child is asleep or is the
// program: no race) and it exits 1 (the child then exits 1 as well).
[[noreturn]] void ProgramMain(const ChildSteps* p) {
  ChildControl* ctl = p->ctl;
  // Its own process group (pgid = its pid in the daemon's namespace): the
  // daemon kills the program and everything it starts with kill(-pgid).
  // With a terminal: a session of its own instead (its group too), so
  // that the terminal can become its controlling terminal.
  EnterStep(ctl, kStepSetpgid);
  if (p->tty) {
    Check(ctl, kSysSetsid, RawSyscall(SYS_setsid));
  } else {
    Check(ctl, kSysSetpgid, RawSyscall(SYS_setpgid, 0, 0));
  }
  if (p->mount_proc) {
    // As unshare --mount-proc: nothing mounted here propagates back, and
    // the new proc shows the pid namespace this process is in (a proc
    // mount belongs to the mounter's active pid namespace, hence here and
    // not in the child).
    EnterStep(ctl, kStepMountProc);
    Check(ctl, kSysMount, RawSyscall(SYS_mount, 0, reinterpret_cast<long>("/"), 0,
                                     MS_REC | MS_PRIVATE, 0));
    Check(ctl, kSysMount,
          RawSyscall(SYS_mount, reinterpret_cast<long>("proc"), reinterpret_cast<long>("/proc"),
                     reinterpret_cast<long>("proc"), MS_NOSUID | MS_NODEV | MS_NOEXEC, 0));
  }
  int slave = -1;
  if (p->tty) {  // after the joins, unshare and mount proc; before the ids change
    EnterStep(ctl, kStepTerminal);
    slave = OpenTerminal(p, ctl);
  }
  if (p->cwd != nullptr) {  // as nsenter --wd: inside the joined mount ns, before the ids
    EnterStep(ctl, kStepChdir);
    Check(ctl, kSysChdir, RawSyscall(SYS_chdir, reinterpret_cast<long>(p->cwd)));
  }
  if (p->set_gid || p->set_uid) {
    // Raw setuid changes only this thread: fine, the program has one.
    EnterStep(ctl, kStepCredentials);
    // With a target, a uid alone keeps the target's groups (dropping them
    // would need CAP_SETGID, which the caller was not checked for).
    if (p->target.pidfd < 0 || p->set_gid) {
      long r = RawSyscall(SYS_setgroups, 0, 0);
      // A user namespace whose setgroups is "deny" (as `unshare -r` makes
      // them) refuses it to everyone: keep the groups, as nsenter does.
      if (r < 0 && !(r == -EPERM && SetgroupsDenied(p->proc_fd))) Fail(ctl, kSysSetgroups, r);
    }
    if (p->set_gid) Check(ctl, kSysSetgid, RawSyscall(SYS_setgid, p->gid));
    if (p->set_uid) Check(ctl, kSysSetuid, RawSyscall(SYS_setuid, p->uid));
  }
  // Die with the daemon; set after the id change, which clears it. (Kept
  // by execve unless the program is setuid or file-capable.)
  RawSyscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
  EnterStep(ctl, kStepStdio);
  for (int i = 0; i < 3; i++) {
    if (slave >= 0) {  // the terminal's slave on 0, 1, 2 (blocking: its own open file)
      Check(ctl, kSysDup3, RawSyscall(SYS_dup3, slave, i, 0));
      continue;
    }
    Check(ctl, kSysDup3, RawSyscall(SYS_dup3, p->stdio[i], i, 0));  // clears CLOEXEC
    // The pipes were made O_NONBLOCK for the daemon's ends; the program's
    // ends are their own open files and go back to blocking here.
    Check(ctl, kSysFcntl, RawSyscall(SYS_fcntl, i, F_SETFL, 0));
  }
  // The daemon opens everything O_CLOEXEC; this makes sure of it, so the
  // program inherits 0, 1, 2 only. (EINVAL: before Linux 5.11; rely on
  // the daemon's flags then.)
  long r = RawSyscall(SYS_close_range, 3, 0xffffffffL, CLOSE_RANGE_CLOEXEC);
  if (r < 0 && r != -EINVAL) Fail(ctl, kSysCloseRange, r);
  // No PATH search: the daemon resolved argv[0] to candidates, tried here,
  // inside the joined mount namespace, with execvp's rules: go on after
  // ENOENT, ENOTDIR, EACCES; report EACCES if any candidate gave it.
  EnterStep(ctl, kStepExecve);
  bool denied = false;
  r = -ENOENT;
  for (size_t i = 0; i < p->candidate_count; i++) {
    r = RawSyscall(SYS_execve, reinterpret_cast<long>(p->candidates[i]),
                   reinterpret_cast<long>(p->argv), reinterpret_cast<long>(p->envp));
    if (r == -EACCES) denied = true;
    if (r != -ENOENT && r != -ENOTDIR && r != -EACCES) break;
  }
  Fail(ctl, kSysExecve, denied && (r == -ENOENT || r == -ENOTDIR || r == -EACCES) ? -EACCES : r);
}

void ProgramEntry(const void* arg) {
  ProgramMain(static_cast<const ChildSteps*>(arg));
}

// Clones the program (see ProgramMain) and exits once it has exec'd:
// exit status 0 tells the daemon the program runs. The kernel stores the
// program's pid (daemon's view) in ChildControl before clone returns.
[[noreturn]] void StartProgram(const ChildSteps* p) {
  ChildControl* ctl = p->ctl;
  long pid = RawCloneOnStack(CLONE_VM | CLONE_VFORK | CLONE_PARENT | CLONE_PARENT_SETTID | SIGCHLD,
                             p->program_stack_top, &ctl->program_pid, ProgramEntry, p);
  Check(ctl, kSysClone, pid);
  if (ctl->err != 0) Exit(1);  // recorded by the program, which has exited
  EnterStep(ctl, kStepDone);
  Exit(0);
}

// The joins, in two passes as nsenter(1) does: the first joins every
// namespace but the user namespace, in the given (NamespaceType) order,
// and leaves a join that fails for later; then the user namespace; then
// the second pass retries what failed, and a failure there ends the child.
// So a privileged caller joins the other namespaces while it still holds
// its privileges over their owners (a target made by `unshare -r` keeps
// the host's mount namespace, which no process in its user namespace may
// join), and one that is privileged only inside the user namespace joins
// them after it. ChildControl::joined_user records the user join (index +
// 1) so a failure after it can say so.
void JoinNamespaces(const ChildSteps* p) {
  ChildControl* ctl = p->ctl;
  uint64_t retry = 0;  // joins (by index) the first pass left for the second
  for (size_t i = 0; i < p->join_count; i++) {
    if (p->join[i].nstype == CLONE_NEWUSER) continue;
    ctl->step_index = static_cast<int32_t>(i);
    long r = RawSyscall(SYS_setns, p->join[i].fd, p->join[i].nstype);
    if (r == 0) continue;
    if (i >= 64) Fail(ctl, kSysSetns, r);  // no room to remember it
    retry |= uint64_t{1} << i;
  }
  for (size_t i = 0; i < p->join_count; i++) {
    if (p->join[i].nstype != CLONE_NEWUSER) continue;
    ctl->step_index = static_cast<int32_t>(i);
    Check(ctl, kSysSetns, RawSyscall(SYS_setns, p->join[i].fd, p->join[i].nstype));
    ctl->joined_user = static_cast<int32_t>(i + 1);
  }
  for (size_t i = 0; i < p->join_count && i < 64; i++) {
    if ((retry & (uint64_t{1} << i)) == 0) continue;
    ctl->step_index = static_cast<int32_t>(i);
    Check(ctl, kSysSetns, RawSyscall(SYS_setns, p->join[i].fd, p->join[i].nstype));
  }
}

}  // namespace

// BindMount's create_target_path: a directory (kind 1) or an empty file
// (kind 2) at `target` unless something is there already. Returns whether
// it created one; a failure other than EEXIST ends the child.
bool CreateTarget(ChildControl* ctl, const char* target, int kind) {
  EnterStep(ctl, kStepCreateTarget);
  long r = kind == 1 ? RawSyscall(SYS_mkdirat, AT_FDCWD, reinterpret_cast<long>(target), 0755)
                     : RawSyscall(SYS_openat, AT_FDCWD, reinterpret_cast<long>(target),
                                  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (r == -EEXIST) return false;
  Check(ctl, kind == 1 ? kSysMkdir : kSysOpen, r);
  if (kind == 2) RawSyscall(SYS_close, r);
  return true;
}

int ChildMain(void* arg) {
  const ChildSteps* p = static_cast<const ChildSteps*>(arg);
  ChildControl* ctl = p->ctl;
  // Our copy of the parent's end would hide the parent's EOF from us.
  if (p->parent_status_fd >= 0) RawSyscall(SYS_close, p->parent_status_fd);
  // Likewise the keeper's write end: only the daemon may hold it.
  if (p->keeper_write_fd >= 0) RawSyscall(SYS_close, p->keeper_write_fd);

  EnterStep(ctl, kStepSignals);
  ResetSignals(p);

  if (p->target.pidfd >= 0 && !EnterTarget(&p->target, ctl)) Exit(1);

  EnterStep(ctl, kStepSetns);
  JoinNamespaces(p);
  if (p->unshare_flags != 0) {
    EnterStep(ctl, kStepUnshare);
    Check(ctl, kSysUnshare, RawSyscall(SYS_unshare, p->unshare_flags));
  }
  if (p->unshare_flags & CLONE_NEWNS) {
    // A new mount namespace starts with the host's propagation: without this,
    // what is mounted in it (by this request or a later one joining it)
    // would show up on the host. unshare(1) does the same by default.
    EnterStep(ctl, kStepMountPrivate);
    Check(ctl, kSysMount, RawSyscall(SYS_mount, 0, reinterpret_cast<long>("/"), 0, MS_REC | MS_PRIVATE, 0));
  }
  if (p->wait_idmap) {
    EnterStep(ctl, kStepWaitIdmap);
    SignalParentAndWait(p, kMsgReadyForIdmap);
  }
  if (p->timens != nullptr) {
    EnterStep(ctl, kStepTimens);
    if (p->target.pidfd >= 0) {  // the target's /proc may not show us
      WritePath(ctl, "self/timens_offsets", p->timens, p->timens_len, p->target.proc_fd);
    } else {
      WritePath(ctl, "/proc/self/timens_offsets", p->timens, p->timens_len);
    }
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
  if (p->move_fd >= 0) {
    bool created = p->move_create != 0 && CreateTarget(ctl, p->move_target, p->move_create);
    EnterStep(ctl, kStepMoveMount);
    long r = RawSyscall(SYS_move_mount, p->move_fd, reinterpret_cast<long>(""), AT_FDCWD,
                        reinterpret_cast<long>(p->move_target), MOVE_MOUNT_F_EMPTY_PATH);
    // Nothing left behind on a failure: what this request created goes again.
    if (r < 0 && created) {
      RawSyscall(SYS_unlinkat, AT_FDCWD, reinterpret_cast<long>(p->move_target),
                 p->move_create == 1 ? AT_REMOVEDIR : 0);
    }
    Check(ctl, kSysMoveMount, r);
  }
  if (p->debug_sleep_ms != 0) {
    EnterStep(ctl, kStepDebugSleep);
    Sleep(ctl, p->debug_sleep_ms);
  }
  if (p->wait_hold) {
    EnterStep(ctl, kStepWaitHold);
    SignalParentAndWait(p, kMsgReadyForHold);
  }
  if (p->candidates != nullptr) {
    if (p->exec_direct) ProgramMain(p);  // the child becomes the program
    EnterStep(ctl, kStepStartProgram);
    StartProgram(p);
  }
  EnterStep(ctl, kStepDone);
  Exit(0);
}
