#include "ns_fd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "compat.h"

int OpenReadOnly(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

int OpenDirectoryPath(const char* path) {
  int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

int OpenNsPath(const char* path, bool no_follow, const char** failed) {
  *failed = "open";
  int flags = O_PATH | O_CLOEXEC | (no_follow ? O_NOFOLLOW : 0);
  int loc = open(path, flags);
  if (loc < 0) return -errno;
  struct statfs fs;
  int bad = fstatfs(loc, &fs) < 0 ? errno : (fs.f_type != static_cast<decltype(fs.f_type)>(NSFS_MAGIC) ? ENOTTY : 0);
  if (bad != 0) {
    close(loc);
    *failed = "fstatfs";
    return -bad;
  }
  // NS_GET_* ioctls need a real open; an nsfs file opens without blocking.
  char self[64];
  snprintf(self, sizeof self, "/proc/self/fd/%d", loc);
  *failed = "open";
  int fd = open(self, O_RDONLY | O_CLOEXEC);
  int err = errno;
  close(loc);
  return fd < 0 ? -err : fd;
}

int PidfdOpen(int pid) { return PidfdOpenFlags(pid, 0); }

int PidfdOpenFlags(int pid, unsigned int flags) {
  long fd = syscall(SYS_pidfd_open, pid, flags);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

int CloseFd(int fd) {
  // Linux always releases the fd, even when close reports EINTR: never retry.
  if (close(fd) < 0 && errno != EINTR) return -errno;
  return 0;
}

int NsStat(int fd, NsStatInfo* out, const char** failed) {
  struct stat st;
  if (fstat(fd, &st) < 0) {
    *failed = "fstat";
    return -errno;
  }
  // NS_GET_NSTYPE is answered only by nsfs: any other file gives ENOTTY,
  // which is exactly the "not a namespace" signal we want.
  int type = ioctl(fd, NS_GET_NSTYPE);
  if (type < 0) {
    *failed = "ioctl(NS_GET_NSTYPE)";
    return -errno;
  }
  out->ino = st.st_ino;
  out->dev = st.st_dev;
  out->nstype = type;
  return 0;
}

int NsRelatedFd(int fd, unsigned long request) {
  int related = ioctl(fd, request);
  if (related < 0) return -errno;
  // The kernel already opens these O_CLOEXEC; make it explicit anyway.
  fcntl(related, F_SETFD, FD_CLOEXEC);
  return related;
}

int NsOwnerUid(int fd, uint32_t* uid) {
  uid_t owner;
  if (ioctl(fd, NS_GET_OWNER_UID, &owner) < 0) return -errno;
  *uid = owner;
  return 0;
}

int WriteWholeFile(const char* path, const char* data, size_t len, const char** failed) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    *failed = "open";
    return -errno;
  }
  ssize_t n = write(fd, data, len);
  int err = n < 0 ? errno : (static_cast<size_t>(n) != len ? EIO : 0);
  close(fd);
  if (err != 0) {
    *failed = "write";
    return -err;
  }
  return 0;
}

int PidfdSignal(int pidfd, int sig) {
  if (syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) < 0) return -errno;
  return 0;
}

bool WaitPidfd(int pidfd, int options, siginfo_t* info) {
  std::memset(info, 0, sizeof *info);
  int r;
  do r = waitid(static_cast<idtype_t>(P_PIDFD), pidfd, info, WEXITED | options);
  while (r < 0 && errno == EINTR);
  return !(r == 0 && info->si_pid == 0);
}
