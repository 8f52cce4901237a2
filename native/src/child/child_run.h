// One run of the per-request child, parent side: clone, watch on the event
// loop, act while the child waits, reap (or hand a direct exec's program
// over), report once. See child_protocol.h for the protocol. No N-API here.
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

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "child/child_program.h"
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
  void Kill(const ChildFailure& why);
  void Finish(bool notify);
  uint64_t id() const { return id_; }
  // The step the child is in now (for timeout and cancel messages).
  std::string CurrentStepName() const;
  // Teardown: kills and reaps the child synchronously, calls no completion.
  void Abandon();

 private:
  void PrepareProgram(uint64_t reset_signals);
  bool Clone(ChildFailure* failure);
  bool Watch(ChildFailure* failure);
  int64_t ProgramTimeoutMs() const;
  ProgramSetup Setup(ProgramOutput* output);
  void DropCgroup();
  const ProgramOutput* Output(ProgramOutput* out);
  void ReleaseUnstarted();
  void OnStatusReadable();
  bool ExecedDirectly() const;
  bool ExitedAlready() const;
  void StopWatching();
  void HandOverProgram(bool exited);
  bool WriteIdMaps();
  bool OpenHeldNamespaces();
  void SendGo();
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
  ChildProgram program_ = {};
  ChildRegion region_;
  ChildControl* ctl_ = nullptr;
  int pid_ = -1;
  int pidfd_ = -1;
  int status_fd_ = -1;        // parent's end
  int child_status_fd_ = -1;  // child's end, closed in the parent after clone
  int keeper_read_ = -1;      // keepalive pipe: the init's end, closed after clone
  int keeper_write_ = -1;     // the daemon's end, handed to the caller on success
  int proc_fd_ = -1;          // target: the daemon's /proc (O_PATH), closed after clone
  StdioPipes stdio_;          // exec: the daemon's ends handed over on success
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
  bool finished_ = false;
  bool direct_ = false;  // exec spec: the child execs the program itself
  std::vector<int> held_fds_;
  ChildFailure parent_failure_;  // timeout, cancel or a failed parent action
};

#endif  // LXNSD_NATIVE_CHILD_RUN_H_
