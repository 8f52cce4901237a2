// The addon's in-process calls on fds, namespaces, sockets and mounts
// (ns_fd.h, mount_ops.h): each converts its arguments, makes one call and
// throws a NativeError on failure.
#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <vector>

#include "compat.h"
#include "js/addon.h"
#include "js/js_args.h"
#include "mount_ops.h"
#include "ns_fd.h"

Napi::Value LxnsAddon::OpenPath(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) ThrowType(info.Env(), "path must be a string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (path.find('\0') != std::string::npos) ThrowType(info.Env(), "path contains NUL");
  int fd = OpenReadOnly(path.c_str());
  if (fd < 0) Throw(info.Env(), fd, "open", path);
  return Napi::Number::New(info.Env(), fd);
}

// openNsPath(path, noFollow): a real fd of an nsfs file, never blocking (ns_fd.h).
Napi::Value LxnsAddon::OpenNsPathJs(const Napi::CallbackInfo& info) {
  std::string path = PathArg(info, 0);
  bool no_follow = info.Length() > 1 && info[1].ToBoolean().Value();
  const char* failed = "";
  int fd = OpenNsPath(path.c_str(), no_follow, &failed);
  if (fd < 0) Throw(info.Env(), fd, failed, path);
  return Napi::Number::New(info.Env(), fd);
}

// pidfdSendSignal(pidfd, sig): sig 0 checks the process is still there (alive or a zombie).
Napi::Value LxnsAddon::PidfdSendSignalJs(const Napi::CallbackInfo& info) {
  int r = PidfdSignal(FdArg(info, 0), FdArg(info, 1));
  if (r < 0) Throw(info.Env(), r, "pidfd_send_signal", "");
  return info.Env().Undefined();
}

// openBeneath(root, relative): an O_PATH fd resolved beneath root (mount_ops.h).
Napi::Value LxnsAddon::OpenBeneathJs(const Napi::CallbackInfo& info) {
  std::string root = PathArg(info, 0);
  std::string relative = PathArg(info, 1);
  const char* failed = "";
  int fd = OpenBeneath(root.c_str(), relative.c_str(), &failed);
  if (fd < 0) Throw(info.Env(), fd, failed, root + " + " + relative);
  return Napi::Number::New(info.Env(), fd);
}

// openTreeFd(fd, recursive, readOnly): a detached clone of the mount at an O_PATH fd.
Napi::Value LxnsAddon::OpenTreeFdJs(const Napi::CallbackInfo& info) {
  int at = FdArg(info, 0);
  bool recursive = info.Length() > 1 && info[1].ToBoolean().Value();
  bool read_only = info.Length() > 2 && info[2].ToBoolean().Value();
  const char* failed = "";
  int fd = OpenTreeCloneAt(at, "", AT_EMPTY_PATH, recursive, read_only, &failed);
  if (fd < 0) Throw(info.Env(), fd, failed, "fd " + std::to_string(at));
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value LxnsAddon::PidfdOpenJs(const Napi::CallbackInfo& info) {
  int pid = FdArg(info, 0);
  bool thread = info.Length() > 1 && info[1].ToBoolean().Value();
  // PIDFD_THREAD (O_EXCL, Linux 6.9): a pidfd of any thread, not only a thread-group leader.
  int fd = thread ? PidfdOpenFlags(pid, O_EXCL) : PidfdOpen(pid);
  if (fd < 0) Throw(info.Env(), fd, "pidfd_open", std::to_string(pid));
  return Napi::Number::New(info.Env(), fd);
}

// pidfd_send_signal(pidfd, 0): false once the process has exited (ESRCH).
Napi::Value LxnsAddon::PidfdAliveJs(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  int r = PidfdSignal(fd, 0);
  if (r < 0 && r != -ESRCH) Throw(info.Env(), r, "pidfd_send_signal", std::to_string(fd));
  return Napi::Boolean::New(info.Env(), r == 0);
}

Napi::Value LxnsAddon::Close(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  int r = CloseFd(fd);
  if (r < 0) Throw(info.Env(), r, "close", std::to_string(fd));
  return info.Env().Undefined();
}

Napi::Value LxnsAddon::NsStatJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  NsStatInfo st;
  const char* failed = "";
  int r = NsStat(FdArg(info, 0), &st, &failed);
  if (r < 0) Throw(env, r, failed, "");
  Napi::Object out = Napi::Object::New(env);
  out.Set("ino", Napi::BigInt::New(env, st.ino));
  out.Set("dev", Napi::BigInt::New(env, st.dev));
  out.Set("nstype", st.nstype);
  return out;
}

Napi::Value LxnsAddon::NsGetUserns(const Napi::CallbackInfo& info) {
  int fd = NsRelatedFd(FdArg(info, 0), NS_GET_USERNS);
  if (fd < 0) Throw(info.Env(), fd, "ioctl(NS_GET_USERNS)", "");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value LxnsAddon::NsGetParent(const Napi::CallbackInfo& info) {
  int fd = NsRelatedFd(FdArg(info, 0), NS_GET_PARENT);
  if (fd < 0) Throw(info.Env(), fd, "ioctl(NS_GET_PARENT)", "");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value LxnsAddon::NsGetOwnerUid(const Napi::CallbackInfo& info) {
  uint32_t uid = 0;
  int r = NsOwnerUid(FdArg(info, 0), &uid);
  if (r < 0) Throw(info.Env(), r, "ioctl(NS_GET_OWNER_UID)", "");
  return Napi::Number::New(info.Env(), uid);
}

// getsockopt(SO_PEERCRED) of a connected unix socket: who connected to the daemon.
Napi::Value LxnsAddon::PeerCredentials(const Napi::CallbackInfo& info) {
  struct ucred cred {};
  socklen_t len = sizeof cred;
  if (getsockopt(FdArg(info, 0), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) Throw(info.Env(), -errno, "getsockopt(SO_PEERCRED)", "");
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("pid", cred.pid);
  out.Set("uid", cred.uid);
  out.Set("gid", cred.gid);
  return out;
}

// getsockopt(SO_PEERGROUPS) of a connected unix socket: the supplementary groups the peer had when it
// connected (the kernel's copy, taken at connect(); unlike /proc/PID/status it cannot change afterwards).
// ERANGE says how large the list is: grow and ask again.
Napi::Value LxnsAddon::PeerGroups(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  std::vector<gid_t> groups(32);
  for (;;) {
    socklen_t len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      groups.resize(len / sizeof(gid_t));
      break;
    }
    if (errno != ERANGE || len / sizeof(gid_t) <= groups.size()) Throw(info.Env(), -errno, "getsockopt(SO_PEERGROUPS)", "");
    groups.resize(len / sizeof(gid_t));
  }
  Napi::Array out = Napi::Array::New(info.Env(), groups.size());
  for (size_t i = 0; i < groups.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), groups[i]));
  return out;
}

// bindMountPath(source, target): mount(source, target, MS_BIND).
Napi::Value LxnsAddon::BindMountPathJs(const Napi::CallbackInfo& info) {
  std::string source = PathArg(info, 0);
  std::string target = PathArg(info, 1);
  int r = BindMountPath(source.c_str(), target.c_str());
  if (r < 0) Throw(info.Env(), r, "mount(MS_BIND)", target);
  return info.Env().Undefined();
}

Napi::Value LxnsAddon::MakeSharedMountPointJs(const Napi::CallbackInfo& info) {
  std::string dir = PathArg(info, 0);
  const char* failed = "";
  int r = MakeSharedMountPoint(dir.c_str(), &failed);
  if (r < 0) Throw(info.Env(), r, failed, dir);
  return info.Env().Undefined();
}

Napi::Value LxnsAddon::UnmountDetachJs(const Napi::CallbackInfo& info) {
  std::string path = PathArg(info, 0);
  int r = UnmountDetach(path.c_str());
  if (r < 0) Throw(info.Env(), r, "umount2", path);
  return info.Env().Undefined();
}

// openTree(path, recursive, readOnly): a detached clone's fd.
Napi::Value LxnsAddon::OpenTreeJs(const Napi::CallbackInfo& info) {
  std::string path = PathArg(info, 0);
  bool recursive = info.Length() > 1 && info[1].ToBoolean().Value();
  bool read_only = info.Length() > 2 && info[2].ToBoolean().Value();
  const char* failed = "";
  int fd = OpenTreeClone(path.c_str(), recursive, read_only, &failed);
  if (fd < 0) Throw(info.Env(), fd, failed, path);
  return Napi::Number::New(info.Env(), fd);
}
