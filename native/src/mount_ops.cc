#include "mount_ops.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "compat.h"

namespace {

// struct mount_attr of <linux/mount.h> (5.12+), spelled out for old headers.
struct MountAttr {
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
};

}  // namespace

int BindMountPath(const char* source, const char* target) {
  return mount(source, target, nullptr, MS_BIND, nullptr) < 0 ? -errno : 0;
}

int MakeSharedMountPoint(const char* dir, const char** failed) {
  *failed = "mount(MS_SHARED)";
  if (mount("", dir, "none", MS_SHARED | MS_REC, nullptr) == 0) return 0;
  if (errno != EINVAL) return -errno;
  *failed = "mount(MS_BIND)";
  if (mount(dir, dir, "none", MS_BIND | MS_REC, nullptr) < 0) return -errno;
  *failed = "mount(MS_SHARED)";
  return mount("", dir, "none", MS_SHARED | MS_REC, nullptr) < 0 ? -errno : 0;
}

int UnmountDetach(const char* path) {
  return umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 ? -errno : 0;
}

// struct open_how of <linux/openat2.h> (5.6+).
struct OpenHow {
  uint64_t flags;
  uint64_t mode;
  uint64_t resolve;
};

int OpenBeneath(const char* root, const char* relative, const char** failed) {
  *failed = "open";
  int dir = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return -errno;
  OpenHow how = {O_PATH | O_CLOEXEC, 0, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
  *failed = "openat2";
  long fd = syscall(SYS_openat2, dir, relative, &how, sizeof how);
  int err = errno;
  close(dir);
  return fd < 0 ? -err : static_cast<int>(fd);
}

int OpenTreeClone(const char* path, bool recursive, bool read_only, const char** failed) {
  return OpenTreeCloneAt(AT_FDCWD, path, 0, recursive, read_only, failed);
}

int OpenTreeCloneAt(int dirfd, const char* path, unsigned int at_flags, bool recursive, bool read_only, const char** failed) {
  unsigned int rec = recursive ? AT_RECURSIVE : 0;
  *failed = "open_tree";
  long fd = syscall(SYS_open_tree, dirfd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec | at_flags);
  if (fd < 0) return -errno;
  if (read_only) {
    MountAttr attr = {MOUNT_ATTR_RDONLY, 0, 0, 0};
    if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | rec, &attr, sizeof attr) < 0) {
      int err = errno;
      close(static_cast<int>(fd));
      *failed = "mount_setattr";
      return -err;
    }
  }
  return static_cast<int>(fd);
}
