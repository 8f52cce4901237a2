// A system call without glibc: returns the kernel's result, -errno on
// failure, and never touches errno. The CLONE_VM child shares the Node main
// thread's memory and TLS, so glibc's errno-setting wrappers (syscall()
// included) would race with the running parent; this is all it may use.
#ifndef LXNSD_NATIVE_RAW_SYSCALL_H_
#define LXNSD_NATIVE_RAW_SYSCALL_H_

#include <sys/syscall.h>

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

// clone(flags, stack_top, parent_tid) where the new process starts on
// stack_top and runs fn(arg), which must never return (it execs or exits).
// For CLONE_VM children: a C function cannot return twice on one stack, so
// the child's side is written here in assembly (as glibc's clone does),
// without glibc (no errno). Returns the pid in the caller, or -errno.
// The child's first frame: rbp/x29 and the return address are zero.
inline long RawCloneOnStack(unsigned long flags, char* stack_top, volatile int* parent_tid,
                            void (*fn)(const void*), const void* arg) {
#if defined(__x86_64__)
  long ret;
  register long r10 __asm__("r10") = 0;  // child_tid
  register long r8 __asm__("r8") = 0;    // tls
  register void (*r12)(const void*) __asm__("r12") = fn;  // preserved by syscall
  register const void* r13 __asm__("r13") = arg;
  __asm__ volatile(
      "syscall\n\t"
      "test %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xor %%ebp, %%ebp\n\t"  // child: on stack_top (16-byte aligned)
      "mov %%r13, %%rdi\n\t"
      "call *%%r12\n\t"
      "hlt\n\t"
      "1:\n\t"
      : "=a"(ret)
      : "a"(SYS_clone), "D"(flags), "S"(stack_top), "d"(parent_tid), "r"(r10), "r"(r8),
        "r"(r12), "r"(r13)
      : "rcx", "r11", "memory");
  return ret;
#elif defined(__aarch64__)
  register long x8 __asm__("x8") = SYS_clone;
  register long x0 __asm__("x0") = static_cast<long>(flags);
  register char* x1 __asm__("x1") = stack_top;
  register volatile int* x2 __asm__("x2") = parent_tid;
  register long x3 __asm__("x3") = 0;  // tls
  register long x4 __asm__("x4") = 0;  // child_tid
  register void (*x19)(const void*) __asm__("x19") = fn;  // preserved by svc
  register const void* x20 __asm__("x20") = arg;
  __asm__ volatile(
      "svc 0\n\t"
      "cbnz x0, 1f\n\t"
      "mov x29, xzr\n\t"  // child: on stack_top (16-byte aligned)
      "mov x30, xzr\n\t"
      "mov x0, x20\n\t"
      "blr x19\n\t"
      "brk #0\n\t"
      "1:\n\t"
      : "+r"(x0)
      : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x19), "r"(x20)
      : "x30", "memory");
  return x0;
#else
#error "RawCloneOnStack: add this architecture"
#endif
}

// clone3(args, size): as RawCloneOnStack, the new process starting on the
// stack that args describes (the kernel sets its stack pointer to
// stack + stack_size, which must be 16-byte aligned) and running fn(arg),
// which must never return. For what only clone3 has (CLONE_INTO_CGROUP).
// Returns the pid in the caller, or -errno.
inline long RawClone3OnStack(const void* args, unsigned long size, void (*fn)(const void*),
                             const void* arg) {
#if defined(__x86_64__)
  long ret;
  register void (*r12)(const void*) __asm__("r12") = fn;  // preserved by syscall
  register const void* r13 __asm__("r13") = arg;
  __asm__ volatile(
      "syscall\n\t"
      "test %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xor %%ebp, %%ebp\n\t"  // child: on the new stack
      "mov %%r13, %%rdi\n\t"
      "call *%%r12\n\t"
      "hlt\n\t"
      "1:\n\t"
      : "=a"(ret)
      : "a"(SYS_clone3), "D"(args), "S"(size), "r"(r12), "r"(r13)
      : "rcx", "r11", "memory");
  return ret;
#elif defined(__aarch64__)
  register long x8 __asm__("x8") = SYS_clone3;
  register long x0 __asm__("x0") = reinterpret_cast<long>(args);
  register unsigned long x1 __asm__("x1") = size;
  register void (*x19)(const void*) __asm__("x19") = fn;  // preserved by svc
  register const void* x20 __asm__("x20") = arg;
  __asm__ volatile(
      "svc 0\n\t"
      "cbnz x0, 1f\n\t"
      "mov x29, xzr\n\t"  // child: on the new stack
      "mov x30, xzr\n\t"
      "mov x0, x20\n\t"
      "blr x19\n\t"
      "brk #0\n\t"
      "1:\n\t"
      : "+r"(x0)
      : "r"(x8), "r"(x1), "r"(x19), "r"(x20)
      : "x30", "memory");
  return x0;
#else
#error "RawClone3OnStack: add this architecture"
#endif
}

#endif  // LXNSD_NATIVE_RAW_SYSCALL_H_
