// What the per-request child runs: a fixed list of steps over memory the
// parent prepared before clone. Shared between the child (child_steps.cc)
// and the parent side (child_run.cc); the protocol between them is in
// child_protocol.h.
#ifndef LXNSD_NATIVE_CHILD_STEPS_H_
#define LXNSD_NATIVE_CHILD_STEPS_H_

#include <cstddef>
#include <cstdint>

#include "child/child_protocol.h"

// The child's steps, in the order it runs them. Names: kChildStepNames.
enum ChildStep : int32_t {
  kStepStart = 0,
  kStepSignals,       // PDEATHSIG, reset dispositions, unblock signals
  // A target context (ChildTarget), as `runc exec` into it: its cgroups
  // (while still privileged), its ids, all its namespaces at once through
  // its pidfd, then its capability sets and no_new_privs; the joins and
  // unshare below run with those credentials.
  kStepTargetCgroup,  // write "0" to each cgroup.procs fd; step_index = which
  kStepTargetIds,     // setgroups, setresgid, setresuid (keeping caps for setns)
  kStepTargetSetns,   // setns(pidfd, ns_flags)
  kStepTargetCaps,    // bounding set, capset, ambient, no_new_privs
  kStepSetns,         // ChildControl::step_index = index into join
  kStepUnshare,
  kStepMountPrivate,  // a new mount namespace: make / rprivate, as unshare(1) does
  kStepWaitIdmap,     // parent writes setgroups/uid_map/gid_map
  kStepTimens,
  kStepPidInit,       // clone the keeper init of a new pid namespace; after
                      // timens (no process may be in a new time ns before
                      // the offsets are written), before the steps that can fail
  kStepExecPause,     // recorded by the keeper init itself when it cannot
                      // exec lxnsd-pause (the child is suspended meanwhile)
  kStepHostname,
  kStepLoopback,
  kStepWriteFile,
  kStepReadFile,
  kStepCreateTarget,  // BindMount's create_target_path, in the joined mount ns
  kStepMoveMount,     // attach a detached tree (BindMount) in the joined mount ns
  kStepDebugSleep,
  kStepWaitHold,      // parent opens /proc/CHILD/ns/*
  kStepStartProgram,  // exec specs: clone the program (see ProgramMain)
  // Recorded by the program itself, before its execve (the child is
  // suspended meanwhile, CLONE_VFORK), or by the child when it execs the
  // program directly:
  kStepSetpgid,
  kStepMountProc,
  kStepTerminal,      // ExecSpec.tty: see child_terminal.h (setsid replaces setpgid)
  kStepChdir,
  kStepCredentials,   // setgroups([]), setgid, setuid
  kStepStdio,         // dup3 onto 0, 1, 2; everything else close-on-exec
  kStepExecve,
  kStepDone,
  kStepCount,
};

// The syscalls a child step can fail in. Names: kChildSyscallNames.
enum ChildSyscall : int32_t {
  kSysNone = 0,
  kSysPrctl,
  kSysGetppid,
  kSysRtSigaction,
  kSysRtSigprocmask,
  kSysSetns,
  kSysUnshare,
  kSysSend,
  kSysRead,
  kSysOpen,
  kSysWrite,
  kSysSethostname,
  kSysSocket,
  kSysIoctlGetFlags,
  kSysIoctlSetFlags,
  kSysNanosleep,
  kSysPipe2,
  kSysClone,
  kSysWait4,  // unused since the keeper init; kept so the names stay in step
  kSysDup3,
  kSysCloseRange,
  kSysExecveat,
  kSysSetpgid,
  kSysMount,
  kSysChdir,
  kSysSetgroups,
  kSysSetgid,
  kSysSetuid,
  kSysExecve,
  kSysMoveMount,
  kSysMkdir,
  kSysFcntl,
  kSysSetresgid,
  kSysSetresuid,
  kSysCapset,
  kSysCapbsetDrop,
  kSysKeepCaps,
  kSysAmbient,
  kSysNoNewPrivs,
  kSysCapget,
  kSysIoctl,     // the terminal's ioctls (child_terminal.cc)
  kSysFchown,
  kSysSendmsg,
  kSysSetsid,
  kSysCount,
};

extern const char* const kChildStepNames[kStepCount];

// Steps the daemon runs itself for a child (child_run.cc,
// program_cgroup.cc). With kChildStepNames, every step name a failure can
// carry ("setns" comes as "setns <type>"); the addon exports both tables
// (STEP_NAMES) so that the server names steps by constant.
enum ParentStep : int32_t {
  kParentStepWriteSetgroups = 0,
  kParentStepWriteUidMap,
  kParentStepWriteGidMap,
  kParentStepOpenNs,
  kParentStepCreateCgroup,
  kParentStepCount,
};
extern const char* const kParentStepNames[kParentStepCount];
extern const char* const kChildSyscallNames[kSysCount];

struct ChildJoin {
  int fd;
  int nstype;
};

// The process a request runs as (see kStepTargetCgroup and the following
// steps). Every value was read by the parent from the target pinned by
// `pidfd`, in the daemon's view (ids are kernel ids as the daemon sees
// them: set before entering the target's user namespace, so no
// translation is needed). pidfd < 0 = no target.
struct ChildTarget {
  int pidfd;
  int ns_flags;               // CLONE_NEW* types that differ from the daemon's
  const int* cgroup_fds;      // cgroup.procs of each hierarchy, O_WRONLY
  size_t cgroup_count;
  uint32_t uid;
  uint32_t gid;
  const uint32_t* groups;     // setgroups(groups) before setns
  size_t group_count;
  uint64_t cap_bnd, cap_inh, cap_prm, cap_eff, cap_amb;
  int cap_last;               // /proc/sys/kernel/cap_last_cap
  bool no_new_privs;
  int proc_fd;                // the daemon's /proc (O_PATH dir) for timens_offsets: the
                              // target's /proc may belong to another pid namespace
};

// Runs the target steps before setns/unshare. False after recording the
// failure (step, syscall, errno) in ctl. Raw syscalls only.
bool EnterTarget(const ChildTarget* t, ChildControl* ctl);

// Prepared by the parent before clone; read-only for the child. Every
// pointer refers to memory that outlives the child (freed after reaping).
struct ChildSteps {
  ChildControl* ctl;
  int parent_pid;
  int status_fd;         // child's end of the status socket, -1 when no handshake
  int parent_status_fd;  // parent's end: the child closes its copy first
  uint64_t reset_signals;  // bit (sig - 1): handled or ignored in the parent
  const ChildJoin* join;
  size_t join_count;
  int unshare_flags;
  bool wait_idmap;
  ChildTarget target;
  const char* timens;  // nullptr = skip
  size_t timens_len;
  const char* hostname;  // nullptr = skip
  size_t hostname_len;
  bool loopback_up;
  const char* write_path;  // nullptr = skip
  const char* write_data;
  size_t write_len;
  const char* read_path;  // nullptr = skip
  char* read_buf;         // in the shared region, read_max bytes
  size_t read_max;
  // BindMount: move_mount(move_fd, "", AT_FDCWD, move_target,
  // MOVE_MOUNT_F_EMPTY_PATH) after the joins; move_fd < 0 = skip. The tree
  // is the daemon's open_tree clone (the child's copy of the fd table has it).
  int move_fd;
  const char* move_target;
  int move_create;  // 0 = no; 1 = mkdir, 2 = an empty file, when move_target is missing
  uint32_t debug_sleep_ms;
  // /proc/PID/ns/pid_for_children opens (ENOENT otherwise) only while the
  // new pid namespace has an init, and the namespace dies with it. The
  // child clones the keeper init as the daemon's own child (CLONE_PARENT,
  // vfork-style on init_stack_top), which execs lxnsd-pause: pid 1 of the
  // new namespace, blocked in read() on keeper_read_fd (as its fd 0) until
  // the daemon closes the write end.
  bool pid_init;
  int keeper_read_fd;   // pipe read end for the init, -1 without pid_init
  int keeper_write_fd;  // the daemon's write end: the child closes its copy
  int pause_fd;         // O_PATH|O_CLOEXEC fd of lxnsd-pause, opened at load
  char* init_stack_top;  // the init's own stack until it execs (guard-paged)

  bool wait_hold;

  // Exec specs: the child clones the program, or with exec_direct becomes
  // it, instead of exiting. nullptr candidates = no program. See
  // ProgramMain in child_steps.cc.
  const char* const* candidates;  // absolute paths, tried in order
  size_t candidate_count;
  char* const* argv;  // NULL-terminated
  char* const* envp;  // NULL-terminated
  const char* cwd;    // nullptr = keep
  int proc_fd;        // the daemon's /proc (O_PATH), -1 = none: is setgroups denied?
  bool set_gid;
  uint32_t gid;
  bool set_uid;
  uint32_t uid;
  bool mount_proc;
  int stdio[3];       // the program's ends of the stdio pipes (>= 3, CLOEXEC); -1 with tty
  // ExecSpec.tty: the program opens a terminal of its own (kStepTerminal)
  // and sends its master over status_fd; the slave is its stdio.
  bool tty;
  uint16_t tty_rows;
  uint16_t tty_cols;
  char* program_stack_top;  // until it execs (guard-paged)
  // The child runs ProgramMain itself (no pid or time namespace to enter
  // for children, so no separate process is needed): one clone fewer.
  bool exec_direct;
};

// The clone() entry point; arg is a ChildSteps*. Never returns: exits the
// child with exit_group(0) on success, exit_group(1) after recording the
// failure in ChildControl. Raw syscalls only (see raw_syscall.h).
int ChildMain(void* arg);

#endif  // LXNSD_NATIVE_CHILD_STEPS_H_
