// The parent side of the per-request child: owns the runs of one addon
// instance (child_run.h), the keeper inits and programs that outlive them,
// and the memory they reuse. No N-API here.
#ifndef LXNSD_NATIVE_CHILD_RUNNER_H_
#define LXNSD_NATIVE_CHILD_RUNNER_H_

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>

#include "child/child_result.h"
#include "child/cgroup_pool.h"
#include "child/child_spec.h"
#include "child/keepers.h"
#include "child/pause_program.h"
#include "child/program_cgroup.h"
#include "child/program_watch.h"
#include "child/region_pool.h"

class ChildRun;

// Owns the children of one addon instance.
class ChildRunner {
 public:
  // `pause` is owned from here on (its fd is closed with the runner).
  ChildRunner(uv_loop_t* loop, PauseProgram pause)
      : loop_(loop), pause_(std::move(pause)), keepers_(loop), cgroup_pool_(loop) {}
  ~ChildRunner();
  ChildRunner(const ChildRunner&) = delete;
  ChildRunner& operator=(const ChildRunner&) = delete;

  // Creates the child and starts watching it. Returns the run's id (a
  // counter from 1 shared by every runner of the process, never reused: it
  // names the request's child and then its program, and its cgroup unless
  // an idle one is reused), or 0 with *failure set when nothing was started (then
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
  // callers and are left alone), and every program's process group, and
  // removes the idle program cgroups of the pool.
  void KillAll();
  // Running children plus live keeper inits and programs, and program
  // cgroups not yet empty and removed (idle ones of the pool not counted).
  size_t running() const { return runs_.size() + keepers_.size() + programs_.size() + cgroups_.size(); }

 private:
  friend class ChildRun;

  uv_loop_t* loop_;
  PauseProgram pause_;
  RegionPool regions_;
  KeeperSet keepers_;
  std::list<ChildRun*> runs_;
  std::list<ProgramWatch*> programs_;
  std::list<ProgramCgroup*> cgroups_;  // being emptied and removed
  CgroupPool cgroup_pool_;             // idle program cgroups (exec.reuse_cgroup)
};

#endif  // LXNSD_NATIVE_CHILD_RUNNER_H_
