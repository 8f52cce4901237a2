// In-process mount operations of the daemon, in its own mount namespace
// (never a namespace change): pins (bind mounts of nsfs files, as
// `ip netns add`), their removal, and detached tree clones for BindMount.
// Each returns a value >= 0 or -errno and never throws; where more than one
// syscall can fail, *failed names the one that did.
#ifndef LXNSD_NATIVE_MOUNT_OPS_H_
#define LXNSD_NATIVE_MOUNT_OPS_H_

// mount(source, target, NULL, MS_BIND, NULL). For a pin, source is
// "/proc/self/fd/N" of an nsfs fd: the magic link resolves to the nsfs file.
int BindMountPath(const char* source, const char* target);
// As `ip netns`: make `dir` a shared mount (MS_SHARED|MS_REC), first binding
// it onto itself when it is not a mount point yet (EINVAL), so pins made
// under it propagate into mount namespaces created later.
int MakeSharedMountPoint(const char* dir, const char** failed);
// umount2(path, MNT_DETACH|UMOUNT_NOFOLLOW).
int UnmountDetach(const char* path);
// open_tree(AT_FDCWD, path, OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC
// [|AT_RECURSIVE]): a detached copy of the mount at path (or of its whole
// subtree), then, with read_only, mount_setattr(MOUNT_ATTR_RDONLY) on it
// (recursively with `recursive`). The fd is the tree: closing it before it
// is attached somewhere (move_mount) dissolves it.
int OpenTreeClone(const char* path, bool recursive, bool read_only, const char** failed);
// The same on dirfd + path with extra AT_* flags: open_tree(fd, "",
// AT_EMPTY_PATH) clones the mount of a path resolved once before.
int OpenTreeCloneAt(int dirfd, const char* path, unsigned int at_flags, bool recursive, bool read_only, const char** failed);
// A path resolved once and race-free beneath a root: open(root,
// O_PATH|O_DIRECTORY), then openat2(dir, relative, O_PATH|O_CLOEXEC,
// RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS): EXDEV when the path (its ".."
// or a symlink in it) leaves the root, ELOOP for a magic link.
int OpenBeneath(const char* root, const char* relative, const char** failed);

#endif  // LXNSD_NATIVE_MOUNT_OPS_H_
