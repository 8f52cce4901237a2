#include "child/pause_program.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace {

// The directory of the shared object this function is in (the .node file).
std::string AddonDirectory() {
  Dl_info info = {};
  if (dladdr(reinterpret_cast<void*>(&AddonDirectory), &info) == 0 || info.dli_fname == nullptr) {
    return ".";
  }
  std::string file = info.dli_fname;
  size_t slash = file.rfind('/');
  return slash == std::string::npos ? "." : file.substr(0, slash);
}

}  // namespace

PauseProgram OpenPauseProgram() {
  PauseProgram out;
  out.path = AddonDirectory() + "/lxnsd-pause";
  int fd = open(out.path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) {
    out.err = errno;
    return out;
  }
  // Never fd 0-2: the keeper init puts the pipe on fd 0 before exec.
  if (fd < 3) {
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int err = errno;
    close(fd);
    if (high < 0) {
      out.err = err;
      return out;
    }
    fd = high;
  }
  struct stat st;
  if (fstat(fd, &st) < 0) {
    out.err = errno;
  } else if (!S_ISREG(st.st_mode)) {
    out.err = S_ISDIR(st.st_mode) ? EISDIR : EACCES;
  } else if (faccessat(fd, "", X_OK, AT_EMPTY_PATH | AT_EACCESS) < 0 && errno != EINVAL &&
             errno != ENOSYS) {
    out.err = errno;  // (EINVAL/ENOSYS: a kernel without faccessat2; exec will tell)
  }
  if (out.err != 0) {
    close(fd);
    return out;
  }
  out.fd = fd;
  return out;
}
