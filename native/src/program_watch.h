// A program started by an exec spec, after its execve: the daemon's own
// child, leader of its own process group (pgid = pid), watched through its
// pidfd on the event loop until it exits, then reaped. No N-API here.
#ifndef LXNSD_NATIVE_PROGRAM_WATCH_H_
#define LXNSD_NATIVE_PROGRAM_WATCH_H_

#include <uv.h>

#include <cstdint>
#include <list>
#include <memory>

class ChildCompletion;
struct ChildFailure;

// How the program ended, from waitid: exit code, or the signal that
// killed it (signaled = true).
struct ProgramExit {
  bool signaled = false;
  int value = 0;
};

// SIGKILLs process group `pid` and the process `pid` (our unreaped child,
// so neither number can have been reused), then reaps it, blocking. For
// the paths where the program may not have exec'd, or must die now.
void KillGroupAndReap(int pid);

class ProgramWatch {
 public:
  // Watches `pid` (our unreaped child, already exec'd) and adds itself to
  // `list`; after `timeout_ms` (< 0: never) SIGKILLs its group. Returns
  // nullptr when it cannot watch: then it has killed and reaped the
  // program and set *failure.
  static ProgramWatch* Start(uv_loop_t* loop, std::list<ProgramWatch*>* list, int pid,
                             int64_t timeout_ms, ChildFailure* failure);
  // The same with a pidfd of `pid` the caller already has: owned by the
  // watch from here on (closed by it on failure too). It may already be
  // readable (the program has exited), but no other poll may watch it.
  static ProgramWatch* Adopt(uv_loop_t* loop, std::list<ProgramWatch*>* list, int pid, int pidfd,
                             int64_t timeout_ms, ChildFailure* failure);
  // Receives ProgramExited once, on the loop, after the program is reaped
  // and every handle stopped; never called after KillAndReap.
  void SetCompletion(std::unique_ptr<ChildCompletion> done);
  int pid() const { return pid_; }
  // Sends `sig` to the program's process group, and to the program itself
  // when it has left that group.
  void Signal(int sig);
  // Teardown: kills the group, reaps the program (blocking), releases
  // everything without calling the completion.
  void KillAndReap();

 private:
  ProgramWatch(std::list<ProgramWatch*>* list, int pid, int pidfd)
      : list_(list), pid_(pid), pidfd_(pidfd) {}
  ~ProgramWatch();
  void Release();
  static void OnExit(uv_poll_t* h, int status, int events);
  static void OnTimeout(uv_timer_t* h);
  static void OnClosed(uv_handle_t* h);

  std::list<ProgramWatch*>* list_;
  int pid_;
  int pidfd_;
  uv_poll_t poll_;
  uv_timer_t timer_;
  int open_handles_ = 0;
  std::unique_ptr<ChildCompletion> done_;
};

#endif  // LXNSD_NATIVE_PROGRAM_WATCH_H_
