#include "child/spec_translation.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace {

// The highest capability number this kernel knows (cap_last_cap).
int CapLast() {
  static int cached = -1;
  if (cached >= 0) return cached;
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  char buf[16] = {};
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0) close(fd);
  int value = n > 0 ? std::atoi(buf) : 0;
  cached = value > 0 && value < 64 ? value : 40;
  return cached;
}

void TranslateTarget(const TargetSpec& s, int proc_fd, ChildTarget* t) {
  t->pidfd = -1;
  t->proc_fd = -1;
  if (!s.has) return;
  t->pidfd = s.pidfd;
  t->ns_flags = s.ns_flags;
  t->cgroup_fds = s.cgroup_fds.data();
  t->cgroup_count = s.cgroup_fds.size();
  t->uid = s.uid;
  t->gid = s.gid;
  t->groups = s.groups.data();
  t->group_count = s.groups.size();
  t->cap_bnd = s.cap_bnd;
  t->cap_inh = s.cap_inh;
  t->cap_prm = s.cap_prm;
  t->cap_eff = s.cap_eff;
  t->cap_amb = s.cap_amb;
  t->cap_last = CapLast();
  t->no_new_privs = s.no_new_privs;
  t->proc_fd = proc_fd;
}

void TranslateExec(const ProgramSpec& e, const ChildResources& res, ExecArrays* arrays, ChildSteps* p) {
  for (const std::string& c : e.candidates) arrays->candidates.push_back(c.c_str());
  // execve's prototype is not const-correct; the kernel only reads them.
  for (const std::string& a : e.argv) arrays->argv.push_back(const_cast<char*>(a.c_str()));
  for (const std::string& v : e.env) arrays->env.push_back(const_cast<char*>(v.c_str()));
  arrays->argv.push_back(nullptr);
  arrays->env.push_back(nullptr);
  p->candidates = arrays->candidates.data();
  p->candidate_count = arrays->candidates.size();
  p->argv = arrays->argv.data();
  p->envp = arrays->env.data();
  p->cwd = e.has_cwd ? e.cwd.c_str() : nullptr;
  p->proc_fd = res.proc_fd;
  p->set_gid = e.has_gid;
  p->gid = e.gid;
  p->set_uid = e.has_uid;
  p->uid = e.uid;
  p->mount_proc = e.mount_proc;
  for (int i = 0; i < 3; i++) p->stdio[i] = res.stdio[i];
  p->tty = e.tty;
  p->tty_rows = e.tty_rows;
  p->tty_cols = e.tty_cols;
  // The keeper init's stack: an exec spec never has a keeper.
  p->program_stack_top = res.region->init_stack_top();
}

}  // namespace

void TranslateSpec(const ChildSpec& spec, const ChildResources& res, ExecArrays* arrays, ChildSteps* out) {
  ChildSteps& p = *out;
  p.ctl = res.region->ctl();
  p.parent_pid = getpid();
  p.status_fd = res.status_fd;
  p.parent_status_fd = res.parent_status_fd;
  p.reset_signals = res.reset_signals;
  p.join = spec.join.data();
  p.join_count = spec.join.size();
  p.unshare_flags = spec.unshare_flags;
  p.wait_idmap = spec.has_idmap;
  TranslateTarget(spec.target, res.proc_fd, &p.target);
  if (spec.has_timens) {
    p.timens = spec.timens.data();
    p.timens_len = spec.timens.size();
  }
  if (spec.has_hostname) {
    p.hostname = spec.hostname.data();
    p.hostname_len = spec.hostname.size();
  }
  p.loopback_up = spec.loopback_up;
  if (spec.has_write) {
    p.write_path = spec.write_path.c_str();
    p.write_data = spec.write_data.data();
    p.write_len = spec.write_data.size();
  }
  if (spec.has_read) {
    p.read_path = spec.read_path.c_str();
    p.read_buf = res.region->read_buf();
    p.read_max = spec.read_max;
  }
  p.move_fd = spec.move_fd;
  p.move_target = spec.move_fd >= 0 ? spec.move_target.c_str() : nullptr;
  p.move_create = spec.move_create;
  p.debug_sleep_ms = spec.debug_sleep_ms;
  p.pid_init = res.keeper_read >= 0;
  p.keeper_read_fd = res.keeper_read;
  p.keeper_write_fd = res.keeper_write;
  p.pause_fd = res.pause_fd;
  p.init_stack_top = res.region->init_stack_top();
  p.wait_hold = !spec.hold_ns.empty();
  p.exec_direct = res.exec_direct;
  if (spec.has_exec) TranslateExec(spec.exec, res, arrays, &p);
}
