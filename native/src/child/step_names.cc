// The names of the child's steps, the parent's steps and the syscalls a step
// can fail in, as failures report them (and as native/lib/steps.ts checks
// them at load). Kept in the order of their enums in child_steps.h.
#include "child/child_steps.h"

const char* const kChildStepNames[kStepCount] = {
    "start",       "reset signals",
    "join target cgroups", "take target ids", "setns target", "take target capabilities",
    "setns",      "unshare",     "make / private", "write uid_map",
    "write timens_offsets",         "start pid init",
    "exec pause",  "sethostname",   "loopback up", "write file", "read file",
    "create target", "move_mount",
    "debug sleep", "open ns",       "start program",
    "setpgid",     "mount proc",    "open terminal", "chdir",      "set credentials", "stdio",
    "execve",      "done",
};

const char* const kParentStepNames[kParentStepCount] = {
    "write setgroups", "write uid_map", "write gid_map", "open ns", "create cgroup",
};

const char* const kChildSyscallNames[kSysCount] = {
    "",
    "prctl(PR_SET_PDEATHSIG)",
    "getppid",
    "rt_sigaction",
    "rt_sigprocmask",
    "setns",
    "unshare",
    "send",
    "read",
    "open",
    "write",
    "sethostname",
    "socket",
    "ioctl(SIOCGIFFLAGS)",
    "ioctl(SIOCSIFFLAGS)",
    "nanosleep",
    "pipe2",
    "clone",
    "wait4",
    "dup3",
    "close_range",
    "execveat",
    "setpgid",
    "mount",
    "chdir",
    "setgroups",
    "setgid",
    "setuid",
    "execve",
    "move_mount",
    "mkdir",
    "fcntl(F_SETFL)",
    "setresgid",
    "setresuid",
    "capset",
    "prctl(PR_CAPBSET_DROP)",
    "prctl(PR_SET_KEEPCAPS)",
    "prctl(PR_CAP_AMBIENT)",
    "prctl(PR_SET_NO_NEW_PRIVS)",
    "capget",
    "ioctl",
    "fchown",
    "sendmsg",
    "setsid",
};
