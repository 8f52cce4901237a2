#include "file_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "compat.h"

namespace {

// struct open_how of <linux/openat2.h> (5.6+).
struct OpenHow {
  uint64_t flags;
  uint64_t mode;
  uint64_t resolve;
};

void CopyStat(const struct stat& st, FileStat* out) {
  out->st_mode = st.st_mode;
  out->size = static_cast<uint64_t>(st.st_size);
  out->uid = st.st_uid;
  out->gid = st.st_gid;
  out->mtime_sec = st.st_mtim.tv_sec;
  out->mtime_nsec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
}

int ReadLinkAt(int dirfd, const char* name, std::string* out) {
  char buf[4096];
  ssize_t n = readlinkat(dirfd, name, buf, sizeof buf);
  if (n < 0) return -errno;
  out->assign(buf, static_cast<size_t>(n));
  return 0;
}

}  // namespace

// Raw syscalls only: glibc's setgroups/setfsuid wrappers would (or may) apply them to every thread.
int TakeCredsOnThisThread(const FileCreds& c) {
  std::vector<gid_t> groups(c.groups.begin(), c.groups.end());
  if (syscall(SYS_setgroups, groups.size(), groups.data()) < 0) return -errno;
  syscall(SYS_setfsgid, c.gid);
  if (static_cast<uint32_t>(syscall(SYS_setfsgid, -1)) != c.gid) return -EPERM;
  syscall(SYS_setfsuid, c.uid);
  if (static_cast<uint32_t>(syscall(SYS_setfsuid, -1)) != c.uid) return -EPERM;
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) < 0) return -errno;
  uint64_t permitted = data[0].permitted | (static_cast<uint64_t>(data[1].permitted) << 32);
  uint64_t effective = c.effective & permitted;
  data[0].effective = static_cast<uint32_t>(effective);
  data[1].effective = static_cast<uint32_t>(effective >> 32);
  if (syscall(SYS_capset, &header, data) < 0) return -errno;
  return 0;
}

int OpenInRoot(int dirfd, const char* path, int flags, unsigned int mode, bool in_root) {
  OpenHow how = {static_cast<uint64_t>(flags | O_CLOEXEC), (flags & O_CREAT) ? mode : 0,
                 static_cast<uint64_t>((in_root ? RESOLVE_IN_ROOT : RESOLVE_BENEATH) | RESOLVE_NO_MAGICLINKS)};
  long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

int StatFd(int fd, FileStat* out) {
  struct stat st;
  if (fstatat(fd, "", &st, AT_EMPTY_PATH) < 0) return -errno;
  CopyStat(st, out);
  return 0;
}

int ReadLinkFd(int fd, std::string* out) { return ReadLinkAt(fd, "", out); }

int RenameIn(int dirfd, const char* from, const char* to) { return renameat(dirfd, from, dirfd, to) < 0 ? -errno : 0; }

int UnlinkIn(int dirfd, const char* name) { return unlinkat(dirfd, name, 0) < 0 ? -errno : 0; }

int ChownFd(int fd, int64_t uid, int64_t gid) {
  return fchownat(fd, "", static_cast<uid_t>(uid), static_cast<gid_t>(gid), AT_EMPTY_PATH) < 0 ? -errno : 0;
}

int ChmodFd(int fd, unsigned int mode) { return fchmod(fd, mode) < 0 ? -errno : 0; }

int ListDir(int fd, size_t max, std::vector<DirEntry>* out) {
  // A directory stream of its own: fdopendir takes the fd it is given.
  int own = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (own < 0) return -errno;
  DIR* dir = fdopendir(own);
  if (!dir) {
    int err = errno;
    close(own);
    return -err;
  }
  int result = 0;
  for (;;) {
    errno = 0;
    struct dirent* d = readdir(dir);
    if (!d) {
      if (errno != 0) result = -errno;
      break;
    }
    if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0) continue;
    if (out->size() >= max) {
      result = -E2BIG;
      break;
    }
    DirEntry entry;
    entry.name = d->d_name;
    struct stat st;
    if (fstatat(own, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT) continue;  // removed meanwhile
      result = -errno;
      break;
    }
    CopyStat(st, &entry.st);
    if (S_ISLNK(st.st_mode)) ReadLinkAt(own, d->d_name, &entry.link);
    out->push_back(std::move(entry));
  }
  closedir(dir);
  return result;
}

// At most this much per read or write: the count fits the int returned.
constexpr size_t kMaxIo = size_t{1} << 30;

int ReadAt(int fd, uint8_t* data, size_t length, uint64_t position) {
  ssize_t n = pread(fd, data, std::min(length, kMaxIo), static_cast<off_t>(position));
  return n < 0 ? -errno : static_cast<int>(n);
}

int WriteSome(int fd, const uint8_t* data, size_t length) {
  ssize_t n = write(fd, data, std::min(length, kMaxIo));
  return n < 0 ? -errno : static_cast<int>(n);
}

int DataSync(int fd) { return fdatasync(fd) < 0 ? -errno : 0; }

int OpenPathFlags(const char* path, int flags) {
  int fd = open(path, flags | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}
