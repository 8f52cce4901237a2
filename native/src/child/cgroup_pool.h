// Idle program cgroups kept for the next program (exec.reuse_cgroup).
//
// Why: clone3(CLONE_INTO_CGROUP) into a cgroup that never held a process
// costs ~0.5 ms on the event loop (kernel 6.18), into one that held a
// process before ~0.1 ms. So a program's cgroup that is left empty, was never
// killed (cgroup.kill: on 6.18 every child later cloned into a killed cgroup
// is SIGKILLed at birth) and is as it was created (Put's checks) waits here
// for the next program below the same parent instead of being removed.
//
// Who could change a program's cgroup: its files are root's, mode 0644, the
// directory 0755, nothing is delegated (chowned), and a restricted
// identity's programs get a cgroup below their target's, never a pooled
// one (server/programs/session.ts asks for reuse only below the daemon's
// default parent). So only a program running as root of the initial user
// namespace can write its cgroup, and such a program can write any
// program's cgroup by its path anyway; the checks (AsCreated, Idle) are
// against a later program inheriting what an earlier one left by accident:
// a sub-cgroup, a frozen cgroup, limits, a delegation. Writes that need no
// check for that reason: cgroup.max.*, cgroup.type, cgroup.pressure, an fd
// kept open by a process outside the cgroup.
//
// Bounded (kMaxIdle), no fds while idle (Take reopens them), each removed
// after kIdleMs idle (an unref'd timer: it keeps no loop alive) and all of
// them at Clear (the runner's KillAll: teardown, daemon stop). A daemon
// killed outright leaves them to the next start's sweep of dead pids'
// cgroups, as it does its programs' cgroups. No N-API here.
#ifndef LXNSD_NATIVE_CGROUP_POOL_H_
#define LXNSD_NATIVE_CGROUP_POOL_H_

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

class ProgramCgroup;

class CgroupPool {
 public:
  static constexpr size_t kMaxIdle = 16;
  static constexpr uint64_t kIdleMs = 3000;

  explicit CgroupPool(uv_loop_t* loop) : loop_(loop) {}
  ~CgroupPool();
  CgroupPool(const CgroupPool&) = delete;
  CgroupPool& operator=(const CgroupPool&) = delete;

  // The most recently used idle cgroup below `parent`, its fds reopened and
  // seen empty and not frozen; nullptr when there is none (idle ones that
  // are gone, or got a process or were frozen meanwhile, are dropped on the
  // way: removed, what is in them killed).
  ProgramCgroup* Take(const std::string& parent);
  // Keeps `cg` (empty, never killed) when it is as created (see
  // ProgramCgroup::AsCreated) and there is room; closes its fds then. False:
  // the caller removes it as usual.
  bool Put(ProgramCgroup* cg);
  // Removes every idle cgroup (rmdir).
  void Clear();
  size_t idle() const { return idle_.size(); }

 private:
  struct Entry {
    ProgramCgroup* cg;
    uint64_t since;  // uv_now
  };
  void Arm();
  void Expire();

  uv_loop_t* loop_;
  std::deque<Entry> idle_;  // oldest first
  uv_timer_t* timer_ = nullptr;  // heap: closed with a callback that frees it
};

#endif  // LXNSD_NATIVE_CGROUP_POOL_H_
