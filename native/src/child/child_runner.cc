#include "child/child_runner.h"

#include <signal.h>
#include <unistd.h>

#include "child/child_run.h"
#include "child/failure_names.h"

ChildRunner::~ChildRunner() {
  KillAll();
  if (pause_.fd >= 0) close(pause_.fd);
}

uint64_t ChildRunner::Start(ChildSpec&& spec, std::unique_ptr<ChildCompletion> done,
                            ChildFailure* failure) {
  ChildRun* run = new ChildRun(this, std::move(spec), std::move(done));
  return run->Start(failure);  // on failure the run has deleted itself
}

bool ChildRunner::SignalProgram(uint64_t id, int sig) {
  ProgramWatch* collecting = nullptr;  // reaped, its output still being read
  for (ProgramWatch* w : programs_) {
    if (w->id() != id) continue;
    if (w->reaped()) {
      collecting = w;
      continue;
    }
    w->Signal(sig);
    return true;
  }
  // SIGKILL (timeout, cancel, deadline) also ends the wait for pipes that a
  // descendant outside the program's group keeps open; other signals have
  // no one left to reach.
  if (collecting == nullptr || sig != SIGKILL) return false;
  collecting->Signal(SIGKILL);  // its cgroup, if it is still being emptied
  collecting->StopCollecting();
  return true;
}

bool ChildRunner::Cancel(uint64_t id) {
  for (ChildRun* run : runs_) {
    if (run->id() != id) continue;
    run->Kill(CancelFailure(run->CurrentStepName()));
    return true;
  }
  return false;
}

void ChildRunner::KillAll() {
  while (!runs_.empty()) {
    runs_.front()->Abandon();  // removes itself
  }
  keepers_.KillAll();
  while (!programs_.empty()) programs_.front()->KillAndReap();  // removes itself
  while (!cgroups_.empty()) cgroups_.front()->RemoveNow();     // likewise
  cgroup_pool_.Clear();  // last: the removals above may have given it some
}
