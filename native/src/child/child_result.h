// What a run of the per-request child reports: its failure or its result,
// delivered once through a ChildCompletion. No N-API here.
#ifndef LXNSD_NATIVE_CHILD_RESULT_H_
#define LXNSD_NATIVE_CHILD_RESULT_H_

#include <string>
#include <vector>

struct ProgramExit;

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
  // ExecSpec.tty: the terminal's master (O_CLOEXEC|O_NONBLOCK; caller owns
  // it) instead of stdio pipes; -1 otherwise.
  int terminal_fd = -1;
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

#endif  // LXNSD_NATIVE_CHILD_RESULT_H_
