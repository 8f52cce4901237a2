// A system call without glibc: returns the kernel's result, -errno on
// failure, and never touches errno. The CLONE_VM child shares the Node main
// thread's memory and TLS, so glibc's errno-setting wrappers (syscall()
// included) would race with the running parent; this is all it may use.
#ifndef LXNSD_NATIVE_RAW_SYSCALL_H_
#define LXNSD_NATIVE_RAW_SYSCALL_H_

inline long RawSyscall(long n, long a = 0, long b = 0, long c = 0, long d = 0,
                       long e = 0, long f = 0) {
#if defined(__x86_64__)
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
#elif defined(__aarch64__)
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc 0"
                   : "+r"(x0)
                   : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                   : "memory");
  return x0;
#else
#error "RawSyscall: add this architecture"
#endif
}

#endif  // LXNSD_NATIVE_RAW_SYSCALL_H_
