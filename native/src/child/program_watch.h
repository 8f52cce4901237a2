// A program started by an exec spec, after its execve: the daemon's own
// child, leader of its own process group (pgid = pid), watched through its
// pidfd on the event loop until it exits, then reaped. Optionally it also
// reads the program's stdout and stderr pipes itself (Run: no JS stream per
// pipe), keeping up to a cap of each. No N-API here.
#ifndef LXNSD_NATIVE_PROGRAM_WATCH_H_
#define LXNSD_NATIVE_PROGRAM_WATCH_H_

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>

class ChildCompletion;
class ProgramCgroup;
struct ChildFailure;

// How the program ended, from waitid: exit code, or the signal that
// killed it (signaled = true); with collected output, what it wrote.
struct ProgramExit {
  bool signaled = false;
  int value = 0;
  bool collected = false;
  std::string output[2];   // stdout, stderr: the first `cap` bytes of each
  bool truncated = false;  // either stream had more than `cap` bytes
  bool timed_out = false;  // killed by its lifetime timeout (exec.timeoutMs)
};

// The daemon's read ends of stdout and stderr (O_NONBLOCK) and how much of
// each to keep; reading goes on to EOF past the cap (the rest is dropped),
// so a chatty program never blocks on a full pipe.
struct ProgramOutput {
  int fds[2] = {-1, -1};
  size_t cap = 0;
};

// How to watch a program: its run id, what is left of its lifetime
// (< 0: no limit), the output to collect (nullptr: none), its own cgroup
// (nullptr: none; owned by the watch from Start/Adopt on, failure
// included) and the runner's list of cgroups being removed.
struct ProgramSetup {
  uint64_t id = 0;
  int64_t timeout_ms = -1;
  const ProgramOutput* output = nullptr;
  ProgramCgroup* cgroup = nullptr;
  std::list<ProgramCgroup*>* cgroups = nullptr;
};

// SIGKILLs process group `pid` and the process `pid` (our unreaped child,
// so neither number can have been reused), then reaps it, blocking. For
// the paths where the program may not have exec'd, or must die now.
void KillGroupAndReap(int pid);

class ProgramWatch {
 public:
  // Watches `pid` (our unreaped child, already exec'd) and adds itself to
  // `list`; after setup.timeout_ms SIGKILLs its group (and cgroup). With
  // setup.output, it owns and reads those fds (closed by it on failure
  // too). With setup.cgroup, the program is over only once that cgroup is
  // empty and removed (after its exit, cgroup.kill ends what it left).
  // Returns nullptr when it cannot watch: then it has killed and reaped the
  // program and set *failure.
  static ProgramWatch* Start(uv_loop_t* loop, std::list<ProgramWatch*>* list, int pid,
                             const ProgramSetup& setup, ChildFailure* failure);
  // The same with a pidfd of `pid` the caller already has: owned by the
  // watch from here on (closed by it on failure too). It may already be
  // readable (the program has exited), but no other poll may watch it.
  // `exited`: the caller saw it exit (waitid WNOWAIT): it is reaped at once
  // (its group SIGKILLed first) and what the pipes hold is read at once, so
  // a short program can be Done() before Adopt returns: no poll at all.
  static ProgramWatch* Adopt(uv_loop_t* loop, std::list<ProgramWatch*>* list, int pid, int pidfd,
                             const ProgramSetup& setup, bool exited, ChildFailure* failure);
  // Reaped, its output (if collected) read to EOF, its cgroup (if any)
  // empty and removed: nothing left to watch.
  bool Done() const { return reaped_ && !out_[0].open && !out_[1].open && cgroup_ == nullptr; }
  // For a Done() watch that has no completion: its exit status (and output);
  // releases the watch (`this` is gone afterwards).
  ProgramExit TakeExit();
  // Receives ProgramExited once, on the loop, after the program is reaped,
  // its output read to EOF and every handle stopped; never called after
  // KillAndReap.
  void SetCompletion(std::unique_ptr<ChildCompletion> done);
  int pid() const { return pid_; }
  uint64_t id() const { return id_; }
  // Reaped (its pid may belong to another process now), output still open.
  bool reaped() const { return reaped_; }
  // Sends `sig` to the program's process group, and to the program itself
  // when it has left that group; SIGKILL also to its whole cgroup. A no-op
  // once it has been reaped (but for the cgroup.kill).
  void Signal(int sig);
  // A reaped program whose output is still being read: a descendant that
  // left its process group (setsid) holds the pipes. Stops reading, as
  // killing the program would have ended it: the output kept so far is the
  // output, marked truncated, and the completion follows (`this` may be
  // gone afterwards).
  void StopCollecting();
  // Teardown: kills the group, reaps the program (blocking), releases
  // everything without calling the completion.
  void KillAndReap();

 private:
  struct Stream {
    int fd = -1;
    uv_poll_t poll;
    bool open = false;    // fd ours, not at EOF yet
    bool polled = false;  // poll initialized (closed with the stream)
  };

  ProgramWatch(std::list<ProgramWatch*>* list, int pid, int pidfd, const ProgramSetup& setup)
      : list_(list), pid_(pid), pidfd_(pidfd), id_(setup.id), cgroup_(setup.cgroup), cgroups_(setup.cgroups) {}
  ~ProgramWatch();
  bool StartOutput(uv_loop_t* loop, const ProgramOutput& output, bool drain);
  void ReapExited();
  void RemoveCgroup();
  bool Drain(int i);
  void CloseHandle(uv_handle_t* h);
  void StopProcess();
  void StopStream(int i);
  void ReadStream(int i, bool failed);
  void MaybeComplete();
  void Release();
  static void OnExit(uv_poll_t* h, int status, int events);
  static void OnOutput(uv_poll_t* h, int status, int events);
  static void OnTimeout(uv_timer_t* h);
  static void OnClosed(uv_handle_t* h);

  std::list<ProgramWatch*>* list_;
  int pid_;
  int pidfd_;
  uint64_t id_;
  ProgramCgroup* cgroup_;  // until empty and removed
  std::list<ProgramCgroup*>* cgroups_;
  bool removing_ = false;  // cgroup_->Remove under way
  bool in_remove_ = false;  // inside cgroup_->Remove
  uv_poll_t poll_;
  uv_timer_t timer_;
  bool poll_open_ = false;
  bool timer_open_ = false;
  Stream out_[2];
  size_t cap_ = 0;
  bool reaped_ = false;
  uv_loop_t* loop_ = nullptr;
  bool released_ = false;  // nothing left to do: deleted once closing_ is 0
  int closing_ = 0;        // handles in uv_close
  ProgramExit exit_;
  std::unique_ptr<ChildCompletion> done_;
};

#endif  // LXNSD_NATIVE_PROGRAM_WATCH_H_
