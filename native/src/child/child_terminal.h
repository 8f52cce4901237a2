// The program's terminal (ExecSpec.tty): allocated by the program itself,
// before its execve, after every join and unshare, so it comes from the
// devpts of the program's own mount namespace. Raw syscalls only (it runs
// in the per-request child or the program it clones; see child_steps.h).
#ifndef LXNSD_NATIVE_CHILD_TERMINAL_H_
#define LXNSD_NATIVE_CHILD_TERMINAL_H_

#include "child/child_steps.h"

// Step "open terminal": opens the pty master at /dev/pts/ptmx, else at
// /dev/ptmx (each must be the ptmx character device, 5:2, before and after
// the open; O_NONBLOCK, never a controlling terminal), unlocks it, sets
// its size (p->tty_rows x p->tty_cols), opens the slave through the master
// (TIOCGPTPEER: no path lookup), gives it to uid/gid when they were given,
// makes it the controlling terminal of the caller (which must already lead
// a session of its own: setsid), and sends the master to the daemon over
// the status socket (kMsgTerminal, SCM_RIGHTS). Returns the slave (>= 3,
// O_CLOEXEC) for the stdio step; the master is closed here. Records the
// failure in ctl and exits 1 on any error.
int OpenTerminal(const ChildSteps* p, ChildControl* ctl);

#endif  // LXNSD_NATIVE_CHILD_TERMINAL_H_
