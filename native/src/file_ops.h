// In-process file operations inside another process's (or mount
// namespace's) root, for FileService. Paths are resolved once with openat2
// (RESOLVE_IN_ROOT from a root fd, or RESOLVE_BENEATH for one name in a
// directory fd; never a magic link), and everything after works on the fd.
// Each returns >= 0 or -errno and never throws. They may block (a hung
// mount, a slow disk): the addon runs each on a thread of its own, never on
// the libuv pool nor the event loop. With FileCreds that thread takes the
// credentials first (TakeCredsOnThisThread), so the kernel checks
// permissions as for that process.
#ifndef LXNSD_NATIVE_FILE_OPS_H_
#define LXNSD_NATIVE_FILE_OPS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

// The filesystem credentials a restricted request acts with: its target's
// uid, gid, groups (kernel ids) and effective capabilities.
struct FileCreds {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;
  uint64_t effective = 0;
};

// What FileService reports of a file (fstat).
struct FileStat {
  uint32_t st_mode = 0;  // type and permission bits
  uint64_t size = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;
};

// One directory entry: its lstat and, for a symlink, its target.
struct DirEntry {
  std::string name;
  FileStat st;
  std::string link;
};

// openat2(dirfd, path, flags|O_CLOEXEC, mode) with RESOLVE_IN_ROOT (in_root)
// or RESOLVE_BENEATH, and RESOLVE_NO_MAGICLINKS: ".." and absolute symlinks
// stay inside dirfd; a magic link is ELOOP.
int OpenInRoot(int dirfd, const char* path, int flags, unsigned int mode, bool in_root);
// fstatat(fd, "", AT_EMPTY_PATH): works on O_PATH fds.
int StatFd(int fd, FileStat* out);
// readlinkat(fd, ""): the target of the symlink fd (opened O_PATH|O_NOFOLLOW).
int ReadLinkFd(int fd, std::string* out);
// renameat(dirfd, from, dirfd, to).
int RenameIn(int dirfd, const char* from, const char* to);
// unlinkat(dirfd, name, 0).
int UnlinkIn(int dirfd, const char* name);
// fchownat(fd, "", uid, gid, AT_EMPTY_PATH); -1 leaves an id as it is.
int ChownFd(int fd, int64_t uid, int64_t gid);
// fchmod(fd, mode).
int ChmodFd(int fd, unsigned int mode);
// Every entry of the directory fd but "." and "..", at most max (then -E2BIG).
int ListDir(int fd, size_t max, std::vector<DirEntry>* out);
// pread(fd, data, length, position): the bytes read (one call, may be short).
int ReadAt(int fd, uint8_t* data, size_t length, uint64_t position);
// write(fd, data, length): the bytes written (one call, may be short).
int WriteSome(int fd, const uint8_t* data, size_t length);
// fdatasync(fd).
int DataSync(int fd);
// open(path, flags|O_CLOEXEC): a lookup from the daemon's own root and cwd.
int OpenPathFlags(const char* path, int flags);
// Sets the calling thread's own supplementary groups, fsgid, fsuid and
// effective capabilities to creds (capped by the permitted set), with raw
// syscalls that touch this thread only. For a thread that ends with its op.
int TakeCredsOnThisThread(const FileCreds& creds);

#endif  // LXNSD_NATIVE_FILE_OPS_H_
