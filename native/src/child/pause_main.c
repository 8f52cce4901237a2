// lxnsd-pause: the keeper init of a held pid namespace, like Kubernetes'
// pause container. The per-request child creates it as pid 1 of the new
// pid namespace and execs this file (execveat on an fd the addon opened at
// load; see keepers.h). Its only job is to exist:
// a pid namespace stays usable only while its init lives.
//
// Contract with the addon:
//   fd 0     the read end of the keepalive pipe; the daemon holds the only
//            write end (no other fd is open, everything else was cloexec)
//   argv[0]  "lxnsd-pause"; no other argument, empty environment
//   exit     0 on EOF or a read error: the daemon closed the write end (or
//            died). As pid 1, its exit makes the kernel kill every process
//            left in the namespace.
//
// No libc: a static -nostdlib executable with its own _start and raw
// system calls, so it maps a few pages (its RSS is a few KiB, not a copy
// of the daemon) and runs in any mount namespace. x86_64 and aarch64.
#include <asm/unistd.h>
#include <linux/prctl.h>

#define SIGCHLD_NR 17
#define SIGKILL_NR 9
#define EINTR_NR 4

static long Syscall(long n, long a, long b, long c, long d) {
#if defined(__x86_64__)
  long ret;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                   : "rcx", "r11", "memory");
  return ret;
#elif defined(__aarch64__)
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
  return x0;
#else
#error "lxnsd-pause: add this architecture"
#endif
}

// The kernel's struct sigaction: SIG_IGN needs no restorer.
struct KernelSigaction {
  unsigned long handler;
  unsigned long flags;
  unsigned long restorer;
  unsigned long mask;
};

__attribute__((noreturn)) static void Exit(int code) {
  for (;;) Syscall(__NR_exit_group, code, 0, 0, 0);
}

__attribute__((noreturn, used)) void PauseMain(void) {
  // Die with the daemon's thread. PDEATHSIG survives execve (this file is
  // neither setuid nor file-capable) and the child set it before exec;
  // set again here so the program does not depend on that. getppid()
  // cannot tell whether the daemon died first: the parent is outside this
  // pid namespace, so it reads 0 either way. The pipe closes that race
  // instead: once the daemon is gone no write end is left, read sees EOF.
  Syscall(__NR_prctl, PR_SET_PDEATHSIG, SIGKILL_NR, 0, 0);
  // For ps and lsns, whatever name the kernel derived from the exec.
  static const char kName[16] = "lxnsd-pause";
  Syscall(__NR_prctl, PR_SET_NAME, (long)kName, 0, 0);
  // As pid 1, ignoring SIGCHLD makes the kernel reap the orphans that are
  // reparented to us. Other dispositions are default (execve reset the
  // handled ones; the child reset the ignored ones before exec).
  struct KernelSigaction ign = {1 /* SIG_IGN */, 0, 0, 0};
  Syscall(__NR_rt_sigaction, SIGCHLD_NR, (long)&ign, 0, 8);
  unsigned long none = 0;
  Syscall(__NR_rt_sigprocmask, 2 /* SIG_SETMASK */, (long)&none, 0, 8);
  char buf[64];
  for (;;) {
    long r = Syscall(__NR_read, 0, (long)buf, sizeof buf, 0);
    if (r > 0 || r == -EINTR_NR) continue;  // the daemon never writes; ignore data
    Exit(0);                                 // EOF or error
  }
}

// The entry point: no frame to return to, the stack as the kernel left it
// (16-byte aligned); clear the frame pointer and call PauseMain.
#if defined(__x86_64__)
__asm__(
    ".text\n"
    ".globl _start\n"
    ".type _start, @function\n"
    "_start:\n"
    "  xor %ebp, %ebp\n"
    "  and $-16, %rsp\n"
    "  call PauseMain\n"
    "  hlt\n");
#elif defined(__aarch64__)
__asm__(
    ".text\n"
    ".globl _start\n"
    ".type _start, %function\n"
    "_start:\n"
    "  mov x29, xzr\n"
    "  mov x30, xzr\n"
    "  bl PauseMain\n"
    "  brk #0\n");
#endif
