// One run of the per-request child, parent side: clone, watch on the event
// loop, act while the child waits, reap (or hand a direct exec's program
// over), report once. See child_protocol.h for the protocol. Its start
// (kPreparing) is in child_run_start.cc, the rest in child_run.cc. No N-API here.
//
// Ids: every run gets a counter id (never reused, unlike a pid); Cancel and
// SignalProgram name runs and programs by it, so a program reaped while its
// output is still being read can never be confused with a new process that
// got its pid.
//
// Watching: uv_poll_t on the pidfd (readable = exited) and on the status
// socket, a uv_timer_t for the timeout; nothing blocks the loop. The pidfd
// poll is the single place a run ends (but for a direct exec's hand-over,
// where a ProgramWatch takes the pidfd and reaps): waitid(P_PIDFD) reaps
// exactly this child (never waitpid(-1): libuv reaps its own children), the
// polls and the timer are stopped and closed before the fds, the region
// goes back to the pool, and the completion runs once. Failure precedence:
// timeout/cancel, then a failed parent action, then the child's own report,
// then its death.
#ifndef LXNSD_NATIVE_CHILD_RUN_H_
#define LXNSD_NATIVE_CHILD_RUN_H_

#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "child/child_steps.h"
#include "child/child_result.h"
#include "child/child_spec.h"
#include "child/program_watch.h"
#include "child/region_pool.h"
#include "child/spec_translation.h"
#include "child/stdio_pipes.h"

class ChildRunner;
class ProgramCgroup;

class ChildRun {
 public:
  ChildRun(ChildRunner* runner, ChildSpec&& spec, std::unique_ptr<ChildCompletion> done)
      : runner_(runner), spec_(std::move(spec)), done_(std::move(done)) {}

  // Creates and watches the child; see ChildRunner::Start. On failure the
  // run has deleted itself and returns 0.
  uint64_t Start(ChildFailure* failure);
  // Event: timeout, cancel or a failed parent action. SIGKILLs the child;
  // the first reason is the run's failure. A no-op once it is over.
  void Kill(const ChildFailure& why);
  uint64_t id() const { return id_; }
  // The step the child is in now (for timeout and cancel messages).
  std::string CurrentStepName() const;
  // Event: teardown. Kills and reaps the child synchronously, calls no
  // completion.
  void Abandon();

 private:
  // Where a run is; each event moves it by one transition (the handshake
  // is in child_protocol.h):
  //
  //   kPreparing --cloned and watched--> NextWait(kPreparing)
  //   kAwaitIdmap --ReadyForIdmap, maps written, go sent--> NextWait(kAwaitIdmap)
  //   kAwaitHold  --ReadyForHold, ns fds opened, go sent--> NextWait(kAwaitHold)
  //   kAwaitExec  --status EOF (or exit) with the child past execve--> kHandedOver
  //   kAwait*     --Kill: timeout, cancel, a parent action failed--> kKilled
  //   kAwait*, kKilled --pidfd readable: reaped, reported--> kDone
  //   any         --Abandon (teardown): reaped, not reported--> kDone
  //
  // NextWait: kAwaitIdmap if the spec has an idMap and it is still to
  // come, then kAwaitHold if it holds namespaces, then kAwaitExec for a
  // direct exec, else kAwaitExit.
  enum class State {
    kPreparing,   // Start: memory, pipes, cgroup; nothing cloned yet
    kAwaitIdmap,  // the child runs up to unshare(USER), then asks for its maps
    kAwaitHold,   // the child runs its steps, then asks for its ns fds to be opened
    kAwaitExec,   // direct exec: the child runs its steps, then becomes the program
    kAwaitExit,   // the child runs its (last) steps and exits
    kKilled,      // SIGKILLed for parent_failure_: waiting for it to exit
    kHandedOver,  // direct exec: its program is a ProgramWatch's now
    kDone,        // reaped and reported; handles closing, then deleted
  };
  bool Waiting() const {
    return state_ == State::kAwaitIdmap || state_ == State::kAwaitHold || state_ == State::kAwaitExec ||
           state_ == State::kAwaitExit;
  }
  State NextWait(State done) const;
  // Events from the status socket and the pidfd.
  void OnMessage(uint32_t kind);
  void OnStatusEof();
  // The child has exited (pidfd readable; notify) or is being abandoned:
  // reaps it and reports once. A direct exec past execve is handed over
  // instead. A spurious wake-up (not exited) changes nothing.
  void Reap(bool notify);

  void PrepareProgram(uint64_t reset_signals);
  bool Clone(ChildFailure* failure);
  bool Watch(ChildFailure* failure);
  int64_t ProgramTimeoutMs() const;
  ProgramSetup Setup(ProgramOutput* output);
  void DropCgroup();
  const ProgramOutput* Output(ProgramOutput* out);
  void ReleaseUnstarted();
  void OnStatusReadable();
  bool ReadStatus(bool terminal_only);
  void TakeTerminal(const ChildMessage& msg, size_t len, struct msghdr* mh);
  bool TerminalMissing() const { return spec_.exec.tty && terminal_fd_ < 0; }
  bool ExecedDirectly() const;
  bool ExitedAlready() const;
  void StopWatching();
  void HandOverProgram(bool exited);
  void CloseHandle(uv_handle_t* h);

  static void OnPidfd(uv_poll_t* h, int status, int events);
  static void OnStatus(uv_poll_t* h, int status, int events);
  static void OnTimeout(uv_timer_t* h);
  static void OnClosed(uv_handle_t* h);

  ChildRunner* runner_;
  uint64_t id_ = 0;
  ProgramCgroup* cgroup_ = nullptr;  // exec.cgroup_parent: until a ProgramWatch takes it
  ChildSpec spec_;
  std::unique_ptr<ChildCompletion> done_;
  ChildSteps program_ = {};
  ChildRegion region_;
  ChildControl* ctl_ = nullptr;
  int pid_ = -1;
  int pidfd_ = -1;
  int status_fd_ = -1;        // parent's end
  int child_status_fd_ = -1;  // child's end, closed in the parent after clone
  int keeper_read_ = -1;      // keepalive pipe: the init's end, closed after clone
  int keeper_write_ = -1;     // the daemon's end, handed to the caller on success
  int proc_fd_ = -1;          // target, or uid/gid given: the daemon's /proc (O_PATH), closed after clone
  StdioPipes stdio_;          // exec: the daemon's ends handed over on success
  int terminal_fd_ = -1;      // exec.tty: the master the program sent, handed over on success
  ExecArrays exec_arrays_;    // exec: arrays over spec_.exec's strings
  uint64_t started_ms_ = 0;  // uv_now at Start, for the program's lifetime timeout
  uint32_t timer_ms_ = 0;    // the run's timer: timeout_ms, or exec.timeoutMs when shorter
  uv_poll_t pid_poll_;
  uv_poll_t status_poll_;
  uv_timer_t timer_;
  bool pid_poll_open_ = false;
  bool status_poll_open_ = false;
  bool timer_open_ = false;
  int open_handles_ = 0;  // handles not yet through OnClosed
  State state_ = State::kPreparing;
  bool direct_ = false;  // exec spec: the child execs the program itself (set in Start)
  std::vector<int> held_fds_;
  ChildFailure parent_failure_;  // kKilled: timeout, cancel or a failed parent action
};

#endif  // LXNSD_NATIVE_CHILD_RUN_H_
