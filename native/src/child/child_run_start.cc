// ChildRun in kPreparing: everything made before the child runs (memory,
// pipes, the status socket, the keeper's keepalive pipe, the cgroup), the
// clone itself and the start of the watch. The rest of the run is in
// child_run.cc.
#include "child/child_run.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "child/child_runner.h"
#include "child/failure_names.h"
#include "child/raw_syscall.h"
#include "child/signal_reset.h"
#include "compat.h"
#include "ns_fd.h"

namespace {

// The clone3 child's entry (RawClone3OnStack); ChildMain never returns.
void ChildEntry(const void* arg) { ChildMain(const_cast<void*>(arg)); }

}  // namespace

void ChildRun::PrepareProgram(uint64_t reset_signals) {
  ChildResources res;
  res.region = &region_;
  res.status_fd = child_status_fd_;
  res.parent_status_fd = status_fd_;
  res.reset_signals = reset_signals;
  res.keeper_read = keeper_read_;
  res.keeper_write = keeper_write_;
  res.pause_fd = runner_->pause_.fd;
  res.exec_direct = direct_;
  res.stdio = stdio_.child_ends();
  res.proc_fd = proc_fd_;
  TranslateSpec(spec_, res, &exec_arrays_, &program_);
}

bool ChildRun::Clone(ChildFailure* failure) {
  bool fork_style = spec_.clone_mode == CloneMode::kFork ||
                    (spec_.clone_mode == CloneMode::kAuto && NeedsForkStyle(spec_));
  // No CLONE_VFORK: the parent must run while the child waits for it.
  int flags = CLONE_PIDFD | SIGCHLD | (fork_style ? 0 : CLONE_VM);
  // posix_spawn-style: block every signal (glibc's internal ones too) so no
  // handler of the daemon can run in the child before it resets them.
  uint64_t all = ~uint64_t{0}, old = 0;
  RawSyscall(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&all),
             reinterpret_cast<long>(&old), 8);
  // The glibc wrapper switches to our stack and calls ChildMain there, for
  // both modes: a fork-style child then runs on its copy of the region, and
  // no C++ frame ever "returns twice".
  int pidfd = -1;
  int pid;
  int err = 0;
  if (cgroup_ != nullptr) {
    // Born in the program's cgroup: so are the program and all it starts.
    struct clone_args args;
    std::memset(&args, 0, sizeof args);
    args.flags = static_cast<uint64_t>(flags & ~CSIGNAL) | CLONE_INTO_CGROUP;
    args.pidfd = reinterpret_cast<uintptr_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    args.stack = reinterpret_cast<uintptr_t>(region_.stack_low());
    args.stack_size = kStackSize;
    args.cgroup = static_cast<uint64_t>(cgroup_->dir_fd());
    long r = RawClone3OnStack(&args, sizeof args, ChildEntry, &program_);
    pid = r < 0 ? -1 : static_cast<int>(r);
    err = r < 0 ? static_cast<int>(-r) : 0;
  } else {
    pid = clone(ChildMain, region_.stack_top(), flags, &program_, &pidfd);
    err = errno;
  }
  RawSyscall(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&old), 0, 8);
  if (child_status_fd_ >= 0) {
    close(child_status_fd_);
    child_status_fd_ = -1;
  }
  if (keeper_read_ >= 0) {
    close(keeper_read_);
    keeper_read_ = -1;
  }
  if (proc_fd_ >= 0) {
    close(proc_fd_);
    proc_fd_ = -1;
  }
  stdio_.CloseChildEnds();
  if (pid < 0) {
    *failure = {err, cgroup_ != nullptr ? "clone3" : "clone", "", "", ""};
    return false;
  }
  pid_ = pid;
  pidfd_ = pidfd;
  return true;
}

bool ChildRun::Watch(ChildFailure* failure) {
  uv_loop_t* loop = runner_->loop_;
  int r = uv_poll_init(loop, &pid_poll_, pidfd_);
  if (r == 0) {
    pid_poll_.data = this;
    pid_poll_open_ = true;
    r = uv_poll_start(&pid_poll_, UV_READABLE, OnPidfd);
  }
  if (r == 0 && status_fd_ >= 0) {
    r = uv_poll_init(loop, &status_poll_, status_fd_);
    if (r == 0) {
      status_poll_.data = this;
      status_poll_open_ = true;
      r = uv_poll_start(&status_poll_, UV_READABLE, OnStatus);
    }
  }
  if (r == 0) {
    r = uv_timer_init(loop, &timer_);
    if (r == 0) {
      timer_.data = this;
      timer_open_ = true;
      // exec.timeoutMs bounds the steps before execve too.
      timer_ms_ = spec_.timeout_ms;
      if (spec_.exec.lifetime_timeout && spec_.exec.lifetime_ms < timer_ms_) timer_ms_ = spec_.exec.lifetime_ms;
      r = uv_timer_start(&timer_, OnTimeout, timer_ms_, 0);
    }
  }
  if (r != 0) *failure = {-r, "uv_poll_start", "", "", ""};
  return r == 0;
}

uint64_t ChildRun::Start(ChildFailure* failure) {
  started_ms_ = uv_now(runner_->loop_);
  // One counter for the process: addon instances of worker threads share
  // the pid, so a per-runner counter would repeat cgroup names.
  static std::atomic<uint64_t> next_id{1};
  id_ = next_id.fetch_add(1, std::memory_order_relaxed);
  bool ok = runner_->regions_.Acquire(spec_.read_max, &region_, failure);
  if (ok) ctl_ = region_.ctl();
  // A terminal replaces the pipes (the program opens it, see child_terminal.h).
  if (!ok || (spec_.has_exec && !spec_.exec.tty && !stdio_.Make(failure))) {
    ReleaseUnstarted();
    return 0;
  }
  if (spec_.has_exec && !spec_.exec.cgroup_parent.empty()) {
    if (spec_.exec.reuse_cgroup) cgroup_ = runner_->cgroup_pool_.Take(spec_.exec.cgroup_parent);
    if (cgroup_ == nullptr) {
      std::string name = "program-" + std::to_string(getpid()) + "-" + std::to_string(id_);
      cgroup_ = ProgramCgroup::Create(spec_.exec.cgroup_parent, name, failure);
    }
    if (cgroup_ == nullptr) {
      ReleaseUnstarted();
      return 0;
    }
    if (spec_.exec.reuse_cgroup) cgroup_->set_pool(&runner_->cgroup_pool_);
  }
  direct_ = ExecsDirectly(spec_);
  if (spec_.has_idmap || !spec_.hold_ns.empty() || spec_.exec.tty) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
      *failure = {errno, "socketpair", "", "", ""};
      ReleaseUnstarted();
      return 0;
    }
    status_fd_ = sv[0];
    child_status_fd_ = sv[1];
    fcntl(status_fd_, F_SETFL, O_NONBLOCK);  // this end's file only
  } else if (direct_) {
    // Only its EOF is needed: a pipe is cheaper than a socketpair, and
    // neither end is ever read or written by the child.
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
      *failure = {errno, "pipe2", "status", "", ""};
      ReleaseUnstarted();
      return 0;
    }
    status_fd_ = fds[0];
    child_status_fd_ = fds[1];
  }
  if (WantsKeeper(spec_)) {
    const PauseProgram& pause = runner_->pause_;
    if (pause.fd < 0) {
      *failure = PauseMissingFailure(pause);
      ReleaseUnstarted();
      return 0;
    }
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
      *failure = {errno, "pipe2", "keeper", "", ""};
      ReleaseUnstarted();
      return 0;
    }
    keeper_read_ = pfd[0];
    keeper_write_ = pfd[1];
  }
  if (spec_.target.has || (spec_.has_exec && (spec_.exec.has_uid || spec_.exec.has_gid))) {
    proc_fd_ = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (proc_fd_ < 0) {
      *failure = {errno, "open", "/proc", "", ""};
      ReleaseUnstarted();
      return 0;
    }
  }
  PrepareProgram(SignalsToReset());
  if (!Clone(failure)) {
    ReleaseUnstarted();
    return 0;
  }
  runner_->runs_.push_back(this);
  if (!Watch(failure)) {
    // Cannot watch it: kill and reap it now, report the failure to Start's
    // caller, never to the completion.
    ChildFailure saved = *failure;
    done_.reset();
    PidfdSignal(pidfd_, SIGKILL);
    Reap(false);
    *failure = saved;
    return 0;
  }
  state_ = NextWait(State::kPreparing);
  return id_;
}

// Only before clone succeeded (no handles yet): free everything now.
void ChildRun::ReleaseUnstarted() {
  if (cgroup_ != nullptr) cgroup_->RemoveNow();  // empty: nothing was cloned into it
  cgroup_ = nullptr;
  if (status_fd_ >= 0) close(status_fd_);
  if (child_status_fd_ >= 0) close(child_status_fd_);
  if (keeper_read_ >= 0) close(keeper_read_);
  if (keeper_write_ >= 0) close(keeper_write_);
  if (proc_fd_ >= 0) close(proc_fd_);
  if (terminal_fd_ >= 0) close(terminal_fd_);
  stdio_.Close();
  runner_->regions_.Release(&region_);
  delete this;
}
