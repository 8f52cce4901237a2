// Spec -> steps: fills the ChildSteps that the per-request child runs
// from a ChildSpec and what the parent prepared for it before clone. No
// N-API here.
#ifndef LXNSD_NATIVE_SPEC_TRANSLATION_H_
#define LXNSD_NATIVE_SPEC_TRANSLATION_H_

#include <cstdint>
#include <vector>

#include "child/child_steps.h"
#include "child/child_spec.h"
#include "child/region_pool.h"

// What the parent made for one child besides its spec; fds are -1 when
// there is none.
struct ChildResources {
  const ChildRegion* region = nullptr;
  int status_fd = -1;         // the child's end of the status socket or pipe
  int parent_status_fd = -1;  // the parent's end (the child closes its copy)
  uint64_t reset_signals = 0;  // SignalsToReset()
  int keeper_read = -1;       // keepalive pipe, see keepers.h
  int keeper_write = -1;
  int pause_fd = -1;          // lxnsd-pause
  bool exec_direct = false;   // ExecsDirectly(spec)
  const int* stdio = nullptr;  // the program's pipe ends (3), exec specs only
  int proc_fd = -1;           // target, or exec uid/gid: the daemon's /proc (O_PATH)
};

// NULL-terminated pointer arrays over a ProgramSpec's strings; they must
// live as long as the child may read them (see "Exec specs" in
// child_protocol.h).
struct ExecArrays {
  std::vector<const char*> candidates;
  std::vector<char*> argv;
  std::vector<char*> env;
};

// Fills *out (zeroed by the caller) so that every pointer in it refers to
// `spec`, `res.region` or `arrays`, which outlive the child.
void TranslateSpec(const ChildSpec& spec, const ChildResources& res, ExecArrays* arrays, ChildSteps* out);

#endif  // LXNSD_NATIVE_SPEC_TRANSLATION_H_
