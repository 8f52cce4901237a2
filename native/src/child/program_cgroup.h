// A program's own cgroup v2: created before the program's per-request
// child is cloned into it (clone3 CLONE_INTO_CGROUP), so the program and
// everything it starts, setsid or not, are in it; ended with cgroup.kill,
// watched through cgroup.events until empty (on the event loop), then
// removed. No N-API here.
//
// Its life (exec.cgroup_parent): before clone,
// mkdir <parent>/program-<daemon pid>-<run id> and open it, its cgroup.kill
// and cgroup.events (a failure: step "create cgroup", nothing started). The
// child is created with clone3(CLONE_INTO_CGROUP) on the same stack (the
// only difference from the clone() path), so its pre-exec steps, the
// program (direct or of its own: cloned by the child, it inherits the
// cgroup) and everything the program starts are in it from birth; setsid
// leaves the process group, never the cgroup. The ProgramWatch owns it from
// the hand-over: SIGKILL (timeout, kill(9), abort) also writes cgroup.kill;
// after the program is reaped, cgroup.kill, then a uv_poll (UV_PRIORITIZED:
// kernfs signals EPOLLPRI on change) on cgroup.events until "populated 0",
// then rmdir; only then is the watch Done() and ProgramExited() called. A
// run that ends without a program hands it to the runner (cgroups_), which
// kills, waits the same way and removes it; teardown (KillAll) waits for at
// most ~1 s per cgroup, blocking. running() counts cgroups being removed.
//
// With a pool (exec.reuse_cgroup, see cgroup_pool.h) a cgroup that the
// program left empty and that was never killed goes back to the pool
// instead (when as created: AsCreated), and a later program below the same
// parent is cloned into it: no cgroup.kill, no rmdir, no mkdir.
#ifndef LXNSD_NATIVE_PROGRAM_CGROUP_H_
#define LXNSD_NATIVE_PROGRAM_CGROUP_H_

#include <uv.h>

#include <cstdint>
#include <functional>
#include <list>
#include <string>

class CgroupPool;
struct ChildFailure;

class ProgramCgroup {
 public:
  // mkdir <parent>/<name>, then opens it and its cgroup.kill and
  // cgroup.events. nullptr with *failure set (step "create cgroup") when
  // any of that fails; nothing is left behind then.
  static ProgramCgroup* Create(const std::string& parent, const std::string& name, ChildFailure* failure);
  // The cgroup's directory fd, for CLONE_INTO_CGROUP.
  int dir_fd() const { return dir_fd_; }
  const std::string& path() const { return path_; }
  // SIGKILLs every process in it (writes "1" to cgroup.kill).
  void Kill();
  // Kills, then waits on `loop` until the cgroup is empty (cgroup.events
  // "populated 0", polled for EPOLLPRI: never a blocking wait), removes it
  // and calls `done` (nothing when empty). Joins `pending` meanwhile;
  // `this` is deleted afterwards, perhaps before Remove returns.
  void Remove(uv_loop_t* loop, std::list<ProgramCgroup*>* pending, std::function<void()> done);
  // Teardown: kills, waits (blocking, at most ~1 s) until empty, removes
  // it, deletes `this`; never calls `done`.
  void RemoveNow();
  // Not empty: Remove may give it to `pool` (never killed and left empty).
  void set_pool(CgroupPool* pool) { pool_ = pool; }

 private:
  friend class CgroupPool;
  ProgramCgroup() = default;
  ~ProgramCgroup();
  bool Empty() const;
  // Empty and not frozen (cgroup.events).
  bool Idle() const;
  // Left as Create made it, as far as matters to a later program: empty,
  // not frozen, no sub-cgroup, the directory root's and mode 0755 (no one
  // was delegated it), no controller (so no limit file to have been set).
  // Only such a cgroup goes back to a pool.
  bool AsCreated() const;
  // Opens the directory, cgroup.kill and cgroup.events again (taken from a
  // pool); false when any open fails.
  bool Reopen();
  // A pool's idle cgroup (no fds): rmdir, or when something got in
  // meanwhile, kill and remove it (RemoveNow); deletes `this`.
  void Discard();
  void Finish();
  void CloseFds();
  static void OnEvents(uv_poll_t* h, int status, int events);

  std::string path_;
  int dir_fd_ = -1;
  int kill_fd_ = -1;
  int events_fd_ = -1;
  uv_poll_t poll_;
  bool polled_ = false;
  std::list<ProgramCgroup*>* pending_ = nullptr;
  std::function<void()> done_;
  CgroupPool* pool_ = nullptr;
  bool killed_ = false;  // cgroup.kill was written: never reused
};

#endif  // LXNSD_NATIVE_PROGRAM_CGROUP_H_
