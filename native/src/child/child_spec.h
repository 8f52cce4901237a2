// One request to the per-request child, in plain C++ types (the addon
// converts the JS spec, see js/child_spec_js.cc), and what a spec implies
// for how the child is made. No N-API here.
#ifndef LXNSD_NATIVE_CHILD_SPEC_H_
#define LXNSD_NATIVE_CHILD_SPEC_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "child/child_steps.h"

// How to create the child. kCloneAuto picks CLONE_VM unless the request
// needs a fork-style child (see NeedsForkStyle in child_spec.cc); the
// others exist so tests can show why.
enum class CloneMode { kAuto, kVm, kFork };

// The program of an exec spec (see ProgramMain in child_steps.cc).
struct ProgramSpec {
  std::vector<std::string> candidates;  // absolute paths, tried in order
  std::vector<std::string> argv;
  std::vector<std::string> env;  // KEY=VALUE, the envp as given
  bool has_cwd = false;
  std::string cwd;
  bool has_uid = false;
  uint32_t uid = 0;
  bool has_gid = false;
  uint32_t gid = 0;
  bool mount_proc = false;
  // Run: the addon reads stdout and stderr itself, keeping up to
  // output_cap bytes of each for ProgramExited, instead of handing the
  // daemon's read ends to the caller.
  bool collect_output = false;
  size_t output_cap = 0;
  // exec.timeoutMs was given: lifetime_ms bounds the program's whole
  // lifetime (from Start), the steps before execve included; at expiry its
  // cgroup (or process group) is SIGKILLed and ProgramExit::timed_out set.
  bool lifetime_timeout = false;
  uint32_t lifetime_ms = 0;
  // Not empty: a cgroup v2 directory under which the program gets a cgroup
  // of its own (see program_cgroup.h); the per-request child is cloned into
  // it, so the program and all it starts are in it. Empty: its process
  // group only.
  std::string cgroup_parent;
  // The program's cgroup may be an idle one of an earlier program below
  // the same parent, and may be kept for a later one when left empty and
  // never killed (cgroup_pool.h). Only for a parent whose programs may
  // share cgroups one after the other (the daemon's default parent).
  bool reuse_cgroup = false;
  // ExecSpec.tty: a terminal instead of stdio pipes (child_terminal.h), of
  // this size; never with collect_output.
  bool tty = false;
  uint16_t tty_rows = 0;
  uint16_t tty_cols = 0;
};

// The target context (see ChildTarget in child_steps.h). The fds belong
// to the caller, who keeps them open until the run completes.
struct TargetSpec {
  bool has = false;
  int pidfd = -1;
  int ns_flags = 0;
  std::vector<int> cgroup_fds;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;
  uint64_t cap_bnd = 0, cap_inh = 0, cap_prm = 0, cap_eff = 0, cap_amb = 0;
  bool no_new_privs = false;
};

// One request, in plain C++ types (the addon converts the JS spec).
struct ChildSpec {
  TargetSpec target;
  std::vector<ChildJoin> join;  // setns in this order
  int unshare_flags = 0;
  bool has_idmap = false;
  std::string uid_map;  // empty = do not write
  std::string gid_map;  // empty = do not write (nor setgroups)
  bool setgroups_deny = true;
  bool has_timens = false;
  std::string timens;
  bool has_hostname = false;
  std::string hostname;
  bool loopback_up = false;
  bool has_write = false;
  std::string write_path;
  std::string write_data;
  bool has_read = false;
  std::string read_path;
  size_t read_max = 0;
  int move_fd = -1;  // BindMount's detached tree (the caller keeps it); -1 = none
  std::string move_target;
  int move_create = 0;  // create move_target first when missing: 0 no, 1 a directory, 2 an empty file
  std::vector<std::string> hold_ns;  // names under /proc/CHILD/ns/
  bool has_exec = false;  // then no hold_ns, read or write (the addon checks)
  ProgramSpec exec;
  uint32_t timeout_ms = 10000;
  uint32_t debug_sleep_ms = 0;
  CloneMode clone_mode = CloneMode::kAuto;
};

// Must the child be fork-style (its own copy of the daemon's memory) for
// this spec to work? (CloneMode::kAuto asks this.)
bool NeedsForkStyle(const ChildSpec& spec);
// An exec spec whose program can be the child itself (no pid or time
// namespace to enter for children): see "Direct exec" in child_protocol.h.
bool ExecsDirectly(const ChildSpec& spec);
// Does the spec need a keeper init (it unshares PID and holds
// pid_for_children)? See keepers.h.
bool WantsKeeper(const ChildSpec& spec);

#endif  // LXNSD_NATIVE_CHILD_SPEC_H_
