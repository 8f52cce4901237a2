#include "sysctl_thread.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "child/child_steps.h"
#include "child/failure_names.h"

namespace {

bool Fail(ChildFailure* f, int err, const char* syscall, const std::string& target, const std::string& step) {
  *f = {err, syscall, target, step, ""};
  return false;
}

int OpenRetrying(const char* path, int flags) {
  int fd;
  do fd = open(path, flags | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  return fd;
}

}  // namespace

bool ThreadMayJoin(int nstype) { return nstype == CLONE_NEWNET || nstype == CLONE_NEWUTS || nstype == CLONE_NEWIPC; }

bool RunSysctlOnThisThread(const SysctlRequest& req, std::string* out, ChildFailure* failure) {
  const char* path = req.path.c_str();
  // setns(2) here changes this thread's namespaces only (CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC never touch the process's).
  int joined = ThreadMayJoin(req.nstype) ? setns(req.ns_fd, req.nstype) : (errno = EINVAL, -1);
  int join_err = errno;
  close(req.ns_fd);
  if (joined != 0) return Fail(failure, join_err, "setns", NsNames(req.nstype), "setns " + NsNames(req.nstype));
  if (req.debug_sleep_ms != 0) std::this_thread::sleep_for(std::chrono::milliseconds(req.debug_sleep_ms));
  const std::string write_step = kChildStepNames[kStepWriteFile];
  const std::string read_step = kChildStepNames[kStepReadFile];
  if (req.write) {
    int fd = OpenRetrying(path, O_WRONLY);
    if (fd < 0) return Fail(failure, errno, "open", req.path, write_step);
    size_t done = 0;
    while (done < req.data.size()) {
      ssize_t n = write(fd, req.data.data() + done, req.data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      int err = n < 0 ? errno : EIO;
      if (n <= 0) {
        close(fd);
        return Fail(failure, err, "write", req.path, write_step);
      }
      done += static_cast<size_t>(n);
    }
    close(fd);
  }
  int fd = OpenRetrying(path, O_RDONLY);
  if (fd < 0) return Fail(failure, errno, "open", req.path, read_step);
  out->assign(req.max, '\0');
  size_t done = 0;
  while (done < req.max) {
    ssize_t n = read(fd, &(*out)[done], req.max - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return Fail(failure, err, "read", req.path, read_step);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
  out->resize(done);
  return true;
}
