#include "child/signal_reset.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "child/raw_syscall.h"

namespace {

// One "Name:\t<hex>" mask line of /proc/self/status; false when missing.
bool StatusMask(const char* text, const char* name, uint64_t* mask) {
  const char* line = std::strstr(text, name);
  if (line == nullptr) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long value = std::strtoull(line + std::strlen(name), &end, 16);
  if (errno != 0 || end == line + std::strlen(name)) return false;
  *mask = value;
  return true;
}

}  // namespace

// Signals the daemon handles or ignores: the child resets exactly these.
// From /proc/self/status (SigCgt | SigIgn, bit sig - 1, as the kernel keeps
// them for the whole thread group): three syscalls where asking
// rt_sigaction for each signal takes 64 (~1 us each on a VM).
uint64_t SignalsToReset() {
  char buf[4096];
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    size_t len = 0;
    for (;;) {
      ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      len += static_cast<size_t>(n);
      if (len == sizeof buf - 1) break;
    }
    close(fd);
    buf[len] = '\0';
    uint64_t caught = 0, ignored = 0;
    if (StatusMask(buf, "\nSigIgn:\t", &ignored) && StatusMask(buf, "\nSigCgt:\t", &caught)) {
      return caught | ignored;
    }
  }
  // No /proc: ask the kernel signal by signal.
  uint64_t bits = 0;
  for (int sig = 1; sig <= 64; sig++) {
    struct {
      void* handler;
      unsigned long flags;
      void* restorer;
      uint64_t mask;
    } old = {};
    if (RawSyscall(SYS_rt_sigaction, sig, 0, reinterpret_cast<long>(&old), 8) < 0) continue;
    if (old.handler != reinterpret_cast<void*>(SIG_DFL)) bits |= uint64_t{1} << (sig - 1);
  }
  return bits;
}
