// The child side of ExecSpec.tty (see child_terminal.h). Same rules as
// child_steps.cc: raw syscalls only, no errno, no library calls.
#include "child/child_terminal.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>

#include <cerrno>
#include <cstring>

#include "child/raw_syscall.h"

namespace {

constexpr unsigned kPtmxMajor = 5;
constexpr unsigned kPtmxMinor = 2;

[[noreturn]] void Fail(ChildControl* ctl, ChildSyscall sys, long ret) {
  ctl->syscall = sys;
  ctl->err = static_cast<int32_t>(-ret);
  for (;;) RawSyscall(SYS_exit_group, 1);
}

void Check(ChildControl* ctl, ChildSyscall sys, long ret) {
  if (ret < 0) Fail(ctl, sys, ret);
}

// 0 when `dirfd`/`path` (or the fd itself with AT_EMPTY_PATH) is the ptmx
// character device; -ENXIO when it is something else; -errno of statx.
long CheckPtmx(long dirfd, const char* path, int flags) {
  struct statx sx;
  long r = RawSyscall(SYS_statx, dirfd, reinterpret_cast<long>(path), flags, STATX_TYPE,
                      reinterpret_cast<long>(&sx));
  if (r < 0) return r;
  if (!S_ISCHR(sx.stx_mode) || sx.stx_rdev_major != kPtmxMajor || sx.stx_rdev_minor != kPtmxMinor) {
    return -ENXIO;
  }
  return 0;
}

// The master of a new pty from the ptmx at `path` (followed in the
// program's mount namespace, as the container itself would), or -errno.
// A container's file system is the container's to arrange, so the node is
// checked to be the ptmx device before it is opened (no other device is
// ever opened by this) and the opened file again after.
long OpenPtmx(const char* path) {
  long r = CheckPtmx(AT_FDCWD, path, 0);
  if (r < 0) return r;
  long fd;
  do fd = RawSyscall(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path),
                     O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0);
  while (fd == -EINTR);
  if (fd < 0) return fd;
  r = CheckPtmx(fd, "", AT_EMPTY_PATH);
  if (r < 0) {
    RawSyscall(SYS_close, fd);
    return r;
  }
  return fd;
}

// Sends the master to the daemon: one ChildMessage{kMsgTerminal} with the
// fd as SCM_RIGHTS on the status socket.
long SendMaster(int status_fd, int master) {
  ChildMessage msg = {kMsgTerminal};
  struct iovec iov = {&msg, sizeof msg};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  std::memset(control, 0, sizeof control);
  struct msghdr mh;
  std::memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  struct cmsghdr* cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cm), &master, sizeof master);
  long r;
  do r = RawSyscall(SYS_sendmsg, status_fd, reinterpret_cast<long>(&mh), MSG_NOSIGNAL);
  while (r == -EINTR);
  return r;
}

}  // namespace

int OpenTerminal(const ChildSteps* p, ChildControl* ctl) {
  // /dev/pts/ptmx as runc does: the devpts instance mounted in this mount
  // namespace. /dev/ptmx when that fails (no devpts there, or its ptmx node
  // is mode 0 as on most hosts and this process cannot override that):
  // the kernel finds the devpts at "pts" next to it.
  long master = OpenPtmx("/dev/pts/ptmx");
  if (master < 0) master = OpenPtmx("/dev/ptmx");
  Check(ctl, kSysOpen, master);
  int unlock = 0;
  Check(ctl, kSysIoctl, RawSyscall(SYS_ioctl, master, TIOCSPTLCK, reinterpret_cast<long>(&unlock)));
  struct winsize ws;
  std::memset(&ws, 0, sizeof ws);
  ws.ws_row = p->tty_rows;
  ws.ws_col = p->tty_cols;
  Check(ctl, kSysIoctl, RawSyscall(SYS_ioctl, master, TIOCSWINSZ, reinterpret_cast<long>(&ws)));
  long slave = RawSyscall(SYS_ioctl, master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  Check(ctl, kSysIoctl, slave);
  if (slave < 3) {  // never a source the stdio step would overwrite first
    long high = RawSyscall(SYS_fcntl, slave, F_DUPFD_CLOEXEC, 3);
    Check(ctl, kSysFcntl, high);
    RawSyscall(SYS_close, slave);
    slave = high;
  }
  if (p->set_uid || p->set_gid) {
    Check(ctl, kSysFchown, RawSyscall(SYS_fchown, slave, p->set_uid ? static_cast<long>(p->uid) : -1L,
                                      p->set_gid ? static_cast<long>(p->gid) : -1L));
  }
  Check(ctl, kSysIoctl, RawSyscall(SYS_ioctl, slave, TIOCSCTTY, 0));
  Check(ctl, kSysSendmsg, SendMaster(p->status_fd, static_cast<int>(master)));
  RawSyscall(SYS_close, master);
  return static_cast<int>(slave);
}
