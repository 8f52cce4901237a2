// In-process namespace fd operations: pure POSIX, no namespace change, no
// fork. Each returns a value >= 0 or -errno, and never throws. Where more
// than one syscall can fail, *failed names the one that did.
#ifndef LXNSD_NATIVE_NS_FD_H_
#define LXNSD_NATIVE_NS_FD_H_

#include <signal.h>

#include <cstddef>
#include <cstdint>

struct NsStatInfo {
  uint64_t ino;  // nsfs inode: the namespace id (lsns NS, lxns ns_id)
  uint64_t dev;  // st_dev as glibc encodes it (what `stat -c %d` prints)
  int nstype;    // CLONE_NEW* from NS_GET_NSTYPE
};

// open(path, O_RDONLY|O_CLOEXEC).
int OpenReadOnly(const char* path);
// open(path, O_PATH|O_DIRECTORY|O_CLOEXEC): a directory to resolve paths from.
int OpenDirectoryPath(const char* path);
// A namespace file named by a caller, opened so that it can never block or
// touch anything but nsfs: open(path, O_PATH|O_CLOEXEC [|O_NOFOLLOW]), then
// fstatfs must say NSFS_MAGIC (else -ENOTTY, *failed "fstatfs"), and only
// then a real open of /proc/self/fd/N (ioctls need one). A FIFO, device or
// symlink (with no_follow) is never opened for I/O.
int OpenNsPath(const char* path, bool no_follow, const char** failed);
// pidfd_open(pid, 0); pidfds are always close-on-exec.
int PidfdOpen(int pid);
// pidfd_open(pid, flags), e.g. PIDFD_THREAD (O_EXCL) for any thread.
int PidfdOpenFlags(int pid, unsigned int flags);
// close(fd); -EBADF for a fd that is not open.
int CloseFd(int fd);
// fstat + ioctl(NS_GET_NSTYPE). A file not on nsfs fails with -ENOTTY.
int NsStat(int fd, NsStatInfo* out, const char** failed);
// ioctl(fd, NS_GET_USERNS | NS_GET_PARENT): a new close-on-exec nsfs fd.
int NsRelatedFd(int fd, unsigned long request);
// ioctl(fd, NS_GET_OWNER_UID); user namespaces only (-EINVAL otherwise).
int NsOwnerUid(int fd, uint32_t* uid);
// open(path, O_WRONLY|O_CLOEXEC) + one write of all of data + close. Used
// for /proc/PID/{setgroups,uid_map,gid_map}, which must be written at once.
int WriteWholeFile(const char* path, const char* data, size_t len, const char** failed);
// pidfd_send_signal(pidfd, sig, NULL, 0).
int PidfdSignal(int pidfd, int sig);
// waitid(P_PIDFD, pidfd, info, WEXITED | options), retried on EINTR. False
// when the process has not exited yet (only possible with WNOHANG).
bool WaitPidfd(int pidfd, int options, siginfo_t* info);

#endif  // LXNSD_NATIVE_NS_FD_H_
