// The parent side of the per-request child: clone, watch on the event loop,
// act while the child waits, reap, report once. No N-API here.
#ifndef LXNSD_NATIVE_CHILD_RUNNER_H_
#define LXNSD_NATIVE_CHILD_RUNNER_H_

#include <uv.h>

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "child/child_program.h"
#include "child/pause_program.h"
#include "child/program_cgroup.h"
#include "child/program_watch.h"

// How to create the child. kCloneAuto picks CLONE_VM unless the request
// needs a fork-style child (see NeedsForkStyle in child_runner.cc); the
// others exist so tests can show why.
enum class CloneMode { kAuto, kVm, kFork };

// The program of an exec spec (see ProgramMain in child_program.cc).
struct ExecSpec {
  std::vector<std::string> candidates;  // absolute paths, tried in order
  std::vector<std::string> argv;
  std::vector<std::string> env;  // KEY=VALUE, the envp as given
  bool has_cwd = false;
  std::string cwd;
  bool has_uid = false;
  uint32_t uid = 0;
  bool has_gid = false;
  uint32_t gid = 0;
  bool mount_proc = false;
  // Run: the addon reads stdout and stderr itself, keeping up to
  // output_cap bytes of each for ProgramExited, instead of handing the
  // daemon's read ends to the caller.
  bool collect_output = false;
  size_t output_cap = 0;
  // exec.timeoutMs was given: lifetime_ms bounds the program's whole
  // lifetime (from Start), the steps before execve included; at expiry its
  // cgroup (or process group) is SIGKILLed and ProgramExit::timed_out set.
  bool lifetime_timeout = false;
  uint32_t lifetime_ms = 0;
  // Not empty: a cgroup v2 directory under which the program gets a cgroup
  // of its own (see program_cgroup.h); the per-request child is cloned into
  // it, so the program and all it starts are in it. Empty: its process
  // group only.
  std::string cgroup_parent;
};

// The target context (see ChildTarget in child_program.h). The fds belong
// to the caller, who keeps them open until the run completes.
struct TargetSpec {
  bool has = false;
  int pidfd = -1;
  int ns_flags = 0;
  std::vector<int> cgroup_fds;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;
  uint64_t cap_bnd = 0, cap_inh = 0, cap_prm = 0, cap_eff = 0, cap_amb = 0;
  bool no_new_privs = false;
};

// One request, in plain C++ types (the addon converts the JS spec).
struct ChildSpec {
  TargetSpec target;
  std::vector<ChildJoin> join;  // setns in this order
  int unshare_flags = 0;
  bool has_idmap = false;
  std::string uid_map;  // empty = do not write
  std::string gid_map;  // empty = do not write (nor setgroups)
  bool setgroups_deny = true;
  bool has_timens = false;
  std::string timens;
  bool has_hostname = false;
  std::string hostname;
  bool loopback_up = false;
  bool has_write = false;
  std::string write_path;
  std::string write_data;
  bool has_read = false;
  std::string read_path;
  size_t read_max = 0;
  int move_fd = -1;  // BindMount's detached tree (the caller keeps it); -1 = none
  std::string move_target;
  int move_create = 0;  // create move_target first when missing: 0 no, 1 a directory, 2 an empty file
  std::vector<std::string> hold_ns;  // names under /proc/CHILD/ns/
  bool has_exec = false;  // then no hold_ns, read or write (the addon checks)
  ExecSpec exec;
  uint32_t timeout_ms = 10000;
  uint32_t debug_sleep_ms = 0;
  CloneMode clone_mode = CloneMode::kAuto;
};

// A failure, in the fields NativeError carries. err == 0 means success.
struct ChildFailure {
  int err = 0;          // positive errno
  std::string syscall;  // "setns", "open", "write(uid_map)", "clone", ...
  std::string target;   // for the message: "user", a path; may be empty
  std::string step;     // the step that failed; empty outside the child steps
  std::string detail;   // replaces strerror() text in the message when set
};

struct ChildResult {
  int pid = 0;
  ChildFailure failure;
  std::vector<int> fds;  // holdNs fds, caller owns them (success only)
  std::string data;      // readFile bytes (success only)
  bool has_data = false;
  // The keeper init of a held new pid namespace (success only): its pid in
  // the daemon's namespace and the keepalive pipe's write end (caller owns
  // the fd; closing it ends the init). 0 / -1 when there is none.
  int keeper_pid = 0;
  int keeper_fd = -1;
  // An exec spec's program, once it has exec'd (success only): its pid in
  // the daemon's namespace (= its pgid) and the daemon's ends of its stdio
  // pipes (O_CLOEXEC|O_NONBLOCK; caller owns them; -1 for stdout and
  // stderr when the addon collects them).
  int program_pid = 0;
  int stdio[3] = {-1, -1, -1};  // stdin write end, stdout and stderr read ends
  // The path of the program's own cgroup (exec.cgroup_parent given).
  std::string cgroup_path;
};

// Receives the outcome exactly once, on the loop thread: after the child
// has been reaped and every handle stopped, or, for a direct exec, once
// the child has become the program (a ProgramWatch then watches and reaps
// it; ProgramExited may follow in the same turn). Destroyed without being
// called only when the runner is torn down (environment cleanup).
class ChildCompletion {
 public:
  virtual ~ChildCompletion() = default;
  virtual void Complete(ChildResult&& result) = 0;
  // Exec specs, after a successful Complete: the program has exited and
  // been reaped. Called once, unless the runner is torn down first.
  virtual void ProgramExited(const ProgramExit&) {}
};

class ChildRun;
struct Keeper;

// Owns the children of one addon instance.
class ChildRunner {
 public:
  // `pause` is owned from here on (its fd is closed with the runner).
  ChildRunner(uv_loop_t* loop, PauseProgram pause) : loop_(loop), pause_(std::move(pause)) {}
  ~ChildRunner();
  ChildRunner(const ChildRunner&) = delete;
  ChildRunner& operator=(const ChildRunner&) = delete;

  // Creates the child and starts watching it. Returns the run's id (a
  // counter from 1 shared by every runner of the process, never reused: it
  // names the request's child and then its program, and its cgroup), or 0 with *failure set when nothing was started (then
  // `done` is never called); a spec that needs a keeper init fails here
  // when lxnsd-pause could not be opened at load (the open's errno, step
  // "exec pause"), one with exec.cgroup_parent when its cgroup cannot be
  // created (step "create cgroup").
  uint64_t Start(ChildSpec&& spec, std::unique_ptr<ChildCompletion> done, ChildFailure* failure);
  // Kills the running child of run `id`; it completes with ECANCELED.
  // False if unknown (over, or its program runs).
  bool Cancel(uint64_t id);
  // Sends `sig` to the program of run `id`: its process group (SIGKILL: its
  // whole cgroup). SIGKILL to a program already reaped whose output is
  // still collected stops the collecting (ProgramWatch::StopCollecting).
  // False if unknown (never started, or over).
  bool SignalProgram(uint64_t id, int sig);
  // Kills and reaps every child synchronously, closes everything, calls no
  // completion. For environment teardown.
  // Also kills and reaps every keeper init (their write ends belong to the
  // callers and are left alone), and every program's process group.
  void KillAll();
  // Running children plus live keeper inits and programs, and program
  // cgroups not yet empty and removed.
  size_t running() const { return runs_.size() + keepers_.size() + programs_.size() + cgroups_.size(); }

 private:
  friend class ChildRun;
  // Watches the keeper init `pid` (our unreaped child) until it exits and
  // reaps it. On failure it has killed and reaped it and set *failure.
  bool AdoptKeeper(int pid, ChildFailure* failure);
  static void OnKeeperExit(uv_poll_t* h, int status, int events);
  void ReleaseKeeper(Keeper* k);

  // Stack regions and control pages of finished runs, kept for the next
  // ones (DESIGN: a reused, guard-paged stack): a fresh mmap/munmap per
  // request costs TLB shootdowns across every CPU running the daemon's mm.
  std::vector<char*> spare_stacks_;
  std::vector<char*> spare_pages_;

  uv_loop_t* loop_;
  PauseProgram pause_;
  std::list<ChildRun*> runs_;
  std::list<Keeper*> keepers_;
  std::list<ProgramWatch*> programs_;
  std::list<ProgramCgroup*> cgroups_;  // being emptied and removed
};

#endif  // LXNSD_NATIVE_CHILD_RUNNER_H_
