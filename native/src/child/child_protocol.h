// The protocol between the daemon (parent) and one per-request child, and
// the types both sides share for it: the control page the child reports
// through, the status socket's messages. The child's side is
// child_steps.cc, the parent's child_run.cc.
//
// Memory (region_pool.h), allocated before clone and returned to the pool only
// after the child is reaped (or, direct exec, has exec'd):
//     stack  (MAP_PRIVATE)  [guard][16 KiB keeper init stack][guard][64 KiB stack]
//     shared (MAP_SHARED)   [ChildControl page][readFile buffer]
// The stack is private so that a fork-style child gets its own copy; the
// shared part is seen by the parent whatever the clone flavour.
// The child records its current step and, on failure, {syscall, errno} in
// ChildControl (as glibc's posix_spawn reports errors through shared
// memory: no extra wake-up), then exits 1. Exit status 0 = all steps done.
//
// Status socket: a SOCK_SEQPACKET|SOCK_CLOEXEC socketpair, created only
// when the parent must act while the child waits (idMap, holdNs); without
// those, a direct exec gets a pipe2(O_CLOEXEC|O_NONBLOCK) in its place,
// for its EOF only (see "Direct exec" below):
//     child  -> parent  ChildMessage{kMsgReadyForIdmap}  after unshare(USER)
//     parent            writes /proc/CHILD/{setgroups,uid_map,gid_map}
//     parent -> child   kGoByte
//     child  -> parent  ChildMessage{kMsgReadyForHold}   after all steps
//     parent            opens /proc/CHILD/ns/<name> for each holdNs name
//     parent -> child   kGoByte
// EOF instead of kGoByte means "give up" (the child exits with EPIPE);
// when a parent action fails the parent also SIGKILLs the child.
//
// Keeper init (a held new pid namespace): see keepers.h.
//
// Exec specs (ChildSpec::has_exec; never with holdNs, readFile, writeFile):
//     parent   three pipe2(O_CLOEXEC|O_NONBLOCK) pairs, all fds >= 3; the
//              daemon's ends (stdin's write end, stdout's and stderr's read
//              ends) stay O_NONBLOCK, the program clears it on its own ends
//              (their own open file descriptions); argv, envp and the
//              candidate paths as
//              NULL-terminated arrays that live until the child is reaped
//              (direct exec: until the hand-over below)
//     program  (ProgramMain, raw syscalls) setpgid(0, 0); with mountProc: /
//              made MS_REC|MS_PRIVATE and a new proc on /proc; chdir(cwd);
//              setgroups([]), setgid, setuid when given; PDEATHSIG=SIGKILL;
//              dup3 of its pipe ends onto 0, 1, 2, each made blocking
//              (fcntl F_SETFL 0); close_range(3, ~0,
//              CLOEXEC); step "execve"; execve of each candidate (ENOENT,
//              ENOTDIR, EACCES: next; EACCES reported if any candidate gave
//              it). A failure is recorded as {step, syscall, errno} in
//              ChildControl and it exits 1.
//   Direct exec: the spec neither joins nor creates a pid or time namespace
//   (ExecsDirectly), so the child itself can be the program:
//     parent   also the status socket or pipe (above), for its
//              close-on-exec only
//     child    after its steps (joins, unshare, idmap, hostname, loopback)
//              runs ProgramMain itself, on its own stack: no second clone,
//              exit or reap. Its end of the status socket is O_CLOEXEC: it
//              closes when execve succeeds (the kernel closes CLOEXEC fds
//              after switching to the new mm, so the stack region is free
//              again then), or when the child exits.
//     parent   EOF on the status socket, or the pidfd readable first (then
//              peeked with waitid(WNOWAIT): the child stays a zombie): if no
//              parent failure was set, ChildControl has no error and its step
//              is "execve", the program runs (or ran: a child killed inside
//              execve counts as a program killed right after it): the run
//              stops watching, hands its pidfd to ProgramWatch::Adopt (which
//              reaps it), the region goes back to the pool and Complete()
//              gets the pid and the daemon's pipe ends. When the child has
//              exited by then (the pidfd came first, or a WNOWAIT peek at
//              the EOF says so), Adopt reaps it at once and reads what the
//              collected pipes hold; a program over by then needs no watch:
//              Complete() and ProgramExited() follow each other in the same
//              turn, with no poll. Otherwise the pidfd
//              ends the run: once the child has exited (still unreaped) its
//              process group is SIGKILLed (it may have exec'd and started
//              others before a timeout or cancel killed it), then it is
//              reaped and Complete() gets the failure: the parent's
//              (timeout, cancel, idmap), else the child's report, else its
//              death.
//   Program of its own: the spec joins or creates a pid or time namespace,
//   which take effect only for the caller's children (pid_for_children,
//   time_for_children), as with nsenter/unshare --fork:
//     child    after its steps, step "start program":
//              clone(CLONE_VM|CLONE_VFORK|CLONE_PARENT|CLONE_PARENT_SETTID|
//              SIGCHLD) onto the spare stack, as for the keeper init: no
//              page-table copy, the program is the daemon's own child
//              (CLONE_PARENT) in the child's namespaces, and it lands in the
//              joined or new pid namespace (pid_for_children) and, at exec,
//              in time_for_children. The kernel stores its pid (daemon's
//              view) in ChildControl::program_pid before clone returns.
//     program  ProgramMain, the child asleep until it has exec'd or exited
//              (no race on ChildControl).
//     child    clone returned (the program exec'd or exited): exits 0, or 1
//              when the program recorded a failure.
//     parent   the child exited 0 = the program runs: pidfd_open(program)
//              (our unreaped child: safe), a ProgramWatch (program_watch.h)
//              takes it over with its own poll and, when timeoutMs was
//              given, a timer for what is left of it; Complete() gets the
//              pid and the daemon's pipe ends, ProgramExited() the status
//              once it is reaped (after its process group is SIGKILLed, so
//              nothing it started outlives it). Any other outcome: the
//              program's group and the program are SIGKILLed and it is
//              reaped (blocking; pre-exec it has no children), the pipe
//              ends closed, and Complete() gets the failure.
//     No extra wake-up or pipe tells the daemon that execve happened: the
//     child's own exit does (CLONE_VFORK returns at the program's exec).
//   Terminal (ExecSpec.tty; never with collectOutput): no stdio pipes; the
//   status socket is always a SOCK_SEQPACKET socketpair (direct exec too:
//   its close-on-exec EOF still says "exec'd"). The program (ProgramMain)
//   calls setsid instead of setpgid and, after mount proc, step "open
//   terminal" (child_terminal.h): a pty from its own mount namespace's
//   devpts, its slave the controlling terminal and fds 0, 1, 2, and
//   ChildMessage{kMsgTerminal} with the master (O_NONBLOCK) as SCM_RIGHTS to
//   the parent, which takes it (recvmsg MSG_CMSG_CLOEXEC) in whatever wait
//   it is in, and reads what is left on the socket before it hands the
//   program over or reaps the child (the message comes before the exec or
//   exit that ends the wait). The master goes to Complete() with the
//   program (ChildResult::terminal_fd), or is closed on any failure.
//   Either way, ProgramWatch (program_watch.h): a poll on the program's
//   pidfd and, with timeoutMs, a timer for what is left of it. At exit
//   (waitid WNOWAIT first: the zombie's pid still names its group) the
//   group is SIGKILLed, then the program is reaped. With exec.collectOutput
//   (Run) the watch also owns the daemon's stdout and stderr read ends (the
//   caller gets -1 for them): a poll on each, read on to EOF, the first
//   collectOutput bytes of each kept; ProgramExited() comes once the program
//   is reaped and both pipes are at EOF, with the output. A reaped watch
//   still reading is never signalled (its pid may be someone else's).
#ifndef LXNSD_NATIVE_CHILD_PROTOCOL_H_
#define LXNSD_NATIVE_CHILD_PROTOCOL_H_

#include <cstdint>

// Child -> parent message on the status socket (SOCK_SEQPACKET).
enum ChildMessageKind : uint32_t {
  kMsgReadyForIdmap = 1,  // unshared a user ns; waiting for the maps
  kMsgReadyForHold = 2,   // all steps done; waiting while the parent opens ns fds
  kMsgTerminal = 3,       // ExecSpec.tty: the pty master as SCM_RIGHTS; no answer
};
struct ChildMessage {
  uint32_t kind;
};
// Parent -> child: this one byte means "go on"; EOF means "give up".
constexpr char kGoByte = 'G';

// Lives in the MAP_SHARED region, so the parent sees it from a fork-style
// child too. The child writes, the parent reads (after reaping for the final
// values; `step` at any time, for timeouts).
struct ChildControl {
  volatile int32_t step;        // ChildStep being run
  volatile int32_t step_index;  // join index for kStepSetns
  volatile int32_t syscall;     // ChildSyscall that failed
  volatile int32_t err;         // positive errno of the failure, 0 = none
  volatile uint64_t data_len;   // bytes of readFile data in read_buf
  // The keeper init's pid in the daemon's pid namespace, written by the
  // kernel (CLONE_PARENT_SETTID) before clone returns, so the parent learns
  // it even when the child is killed right after; 0 = no init was created.
  volatile int32_t init_pid;
  // The program's pid (exec specs), stored the same way; 0 = not created.
  volatile int32_t program_pid;
  // 1 + the index of the user namespace join once it succeeded, 0 before
  // (or without one): a later failure names it.
  volatile int32_t joined_user;
};

#endif  // LXNSD_NATIVE_CHILD_PROTOCOL_H_
