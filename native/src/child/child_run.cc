// ChildRun from the clone on: its events (status messages and EOF, the
// child's exit, timeout, cancel, teardown), the hand-over of a direct
// exec's program, and the one report. Its start is in child_run_start.cc.
#include "child/child_run.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "child/child_runner.h"
#include "child/failure_names.h"
#include "child/keepers.h"
#include "child/parent_actions.h"
#include "compat.h"
#include "ns_fd.h"

// What is left of timeoutMs for the program after exec; -1 = no limit.
int64_t ChildRun::ProgramTimeoutMs() const {
  if (!spec_.exec.lifetime_timeout) return -1;
  uint64_t spent = uv_now(runner_->loop_) - started_ms_;
  uint32_t limit = spec_.exec.lifetime_ms;
  return spent >= limit ? 0 : static_cast<int64_t>(limit - spent);
}

// What a ProgramWatch needs; the cgroup and the collected read ends go to
// it from here on, whether it starts or not.
ProgramSetup ChildRun::Setup(ProgramOutput* output) {
  ProgramSetup setup;
  setup.id = id_;
  setup.timeout_ms = ProgramTimeoutMs();
  setup.output = Output(output);
  setup.cgroup = cgroup_;
  setup.cgroups = &runner_->cgroups_;
  cgroup_ = nullptr;
  return setup;
}

// No program to hand the cgroup to: whatever is in it is killed, and it is
// removed once empty (at once, in the usual case: nothing but the reaped
// child was ever in it).
void ChildRun::DropCgroup() {
  if (cgroup_ == nullptr) return;
  ProgramCgroup* cg = cgroup_;
  cgroup_ = nullptr;
  cg->Remove(runner_->loop_, &runner_->cgroups_, nullptr);
}

// What a ProgramWatch should read itself (collectOutput), or nullptr. The
// watch owns those read ends from here on, whether it starts or not.
const ProgramOutput* ChildRun::Output(ProgramOutput* out) {
  if (!spec_.exec.collect_output) return nullptr;
  stdio_.TakeOutput(out);
  out->cap = spec_.exec.output_cap;
  return out;
}

void ChildRun::OnStatusReadable() {
  if (ReadStatus(false)) return;
  // EOF or error: the child exec'd or is gone
  uv_poll_stop(&status_poll_);
  OnStatusEof();
}

// Reads every message waiting on the status socket or pipe (O_NONBLOCK):
// a terminal is taken whenever it comes; with `terminal_only` (the child
// is gone or being handed over) nothing else is acted on. True while more
// may come, false at EOF or on an error.
bool ChildRun::ReadStatus(bool terminal_only) {
  for (;;) {
    ChildMessage msg;
    struct iovec iov = {&msg, sizeof msg};
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    struct msghdr mh;
    std::memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    ssize_t n = recvmsg(status_fd_, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && errno == ENOTSOCK) {  // a direct exec's pipe: never written, only closed
      mh.msg_controllen = 0;
      n = read(status_fd_, &msg, sizeof msg);
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (n <= 0) return false;
    if (mh.msg_controllen > 0 || msg.kind == kMsgTerminal) {
      TakeTerminal(msg, static_cast<size_t>(n), &mh);
      continue;
    }
    if (static_cast<size_t>(n) != sizeof msg || terminal_only) continue;
    OnMessage(msg.kind);
  }
}

// Keeps the master of a kMsgTerminal message (the first, when the spec
// asked for a terminal); any other fd that came along is closed.
void ChildRun::TakeTerminal(const ChildMessage& msg, size_t len, struct msghdr* mh) {
  for (struct cmsghdr* cm = CMSG_FIRSTHDR(mh); cm != nullptr; cm = CMSG_NXTHDR(mh, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
      bool wanted = len == sizeof msg && msg.kind == kMsgTerminal && spec_.exec.tty && terminal_fd_ < 0;
      if (wanted) {
        terminal_fd_ = fd;
      } else {
        close(fd);
      }
    }
  }
}

// The state that follows `done` when it went well: the waits come in the
// order the child's steps reach them (see child_protocol.h).
ChildRun::State ChildRun::NextWait(State done) const {
  if (done == State::kPreparing && spec_.has_idmap) return State::kAwaitIdmap;
  if ((done == State::kPreparing || done == State::kAwaitIdmap) && !spec_.hold_ns.empty()) {
    return State::kAwaitHold;
  }
  return direct_ ? State::kAwaitExec : State::kAwaitExit;
}

// A message is acted on only in the state that waits for it; any other
// (a killed run's, one out of order) is dropped: the child then gets EOF
// or is reaped.
void ChildRun::OnMessage(uint32_t kind) {
  if (state_ == State::kAwaitIdmap && kind == kMsgReadyForIdmap) {
    ChildFailure failure;
    if (!WriteIdMaps(pid_, spec_, &failure)) {
      Kill(failure);
      return;
    }
    SendGo(status_fd_);
    state_ = NextWait(State::kAwaitIdmap);
  } else if (state_ == State::kAwaitHold && kind == kMsgReadyForHold) {
    ChildFailure failure;
    if (!OpenHeldNamespaces(pid_, spec_.hold_ns, &held_fds_, &failure)) {
      Kill(failure);
      return;
    }
    SendGo(status_fd_);
    state_ = NextWait(State::kAwaitHold);
  }
}

// EOF or an error on the status socket or pipe: the child exec'd or is
// gone. A direct exec's program runs from here on; otherwise the pidfd
// ends the run.
void ChildRun::OnStatusEof() {
  uv_poll_stop(&status_poll_);
  if (done_ && ExecedDirectly()) HandOverProgram(ExitedAlready());
}

void ChildRun::Kill(const ChildFailure& why) {
  if (!Waiting() && state_ != State::kKilled) return;
  if (state_ != State::kKilled) {
    parent_failure_ = why;
    state_ = State::kKilled;
  }
  PidfdSignal(pidfd_, SIGKILL);
}

void ChildRun::CloseHandle(uv_handle_t* h) {
  open_handles_++;
  uv_close(h, OnClosed);  // also stops it
}

// Had the child of a direct exec got past execve when its status socket
// closed or it exited? Asked only then: a failure before exec is recorded
// before the child exits 1, and EOF while alive means exec. (A child killed
// by someone else inside execve counts as a program killed right after it,
// as it did when the program was a process of its own.)
bool ChildRun::ExecedDirectly() const {
  return state_ == State::kAwaitExec && ctl_->err == 0 && ctl_->step == kStepExecve;
}

// Has the child exited (still unreaped)? waitid(WNOHANG|WNOWAIT).
bool ChildRun::ExitedAlready() const {
  siginfo_t info;
  return WaitPidfd(pidfd_, WNOHANG | WNOWAIT, &info);
}

// Stops and closes the handles before any fd is closed, so epoll never
// sees a reused fd; closes the status socket or pipe.
void ChildRun::StopWatching() {
  if (pid_poll_open_) CloseHandle(reinterpret_cast<uv_handle_t*>(&pid_poll_));
  if (status_poll_open_) CloseHandle(reinterpret_cast<uv_handle_t*>(&status_poll_));
  if (timer_open_) CloseHandle(reinterpret_cast<uv_handle_t*>(&timer_));
  pid_poll_open_ = status_poll_open_ = timer_open_ = false;
  if (status_fd_ >= 0) close(status_fd_);
  status_fd_ = -1;
}

// A direct exec's child is now the program (exec'd, perhaps exited
// already: `exited`): its pidfd goes to a ProgramWatch, which reaps it. A
// program that is over by then (reaped, its output at EOF) needs no watch
// at all: the completion gets the start and the exit at once.
void ChildRun::HandOverProgram(bool exited) {
  if (status_fd_ >= 0) ReadStatus(true);  // the terminal, sent before the exec
  StopWatching();
  state_ = State::kHandedOver;
  ChildResult result;
  result.pid = pid_;
  int pidfd = pidfd_;
  pidfd_ = -1;
  ProgramOutput output;
  std::string cgroup_path = cgroup_ != nullptr ? cgroup_->path() : "";
  ProgramWatch* program = ProgramWatch::Adopt(runner_->loop_, &runner_->programs_, pid_, pidfd,
                                               Setup(&output), exited, &result.failure);
  if (program != nullptr && TerminalMissing()) {
    // Its master was sent but not received (recvmsg had no fd left for it).
    program->KillAndReap();
    program = nullptr;
    result.failure = {EMFILE, "recvmsg", "terminal", kChildStepNames[kStepTerminal], ""};
  }
  if (program != nullptr) {
    result.program_pid = pid_;
    result.cgroup_path = cgroup_path;
    stdio_.HandOver(result.stdio);
    result.terminal_fd = terminal_fd_;
    terminal_fd_ = -1;
  }
  if (terminal_fd_ >= 0) close(terminal_fd_);
  terminal_fd_ = -1;
  stdio_.Close();
  runner_->regions_.Release(&region_);
  runner_->runs_.remove(this);
  std::unique_ptr<ChildCompletion> done = std::move(done_);
  if (program != nullptr && program->Done()) {
    ProgramExit exit = program->TakeExit();  // the watch is gone
    done->Complete(std::move(result));
    done->ProgramExited(exit);
  } else {
    ChildCompletion* c = done.get();
    if (program != nullptr) program->SetCompletion(std::move(done));
    c->Complete(std::move(result));
  }
  // `this` is deleted by OnClosed once every handle has closed.
  if (open_handles_ == 0) delete this;
}

void ChildRun::Reap(bool notify) {
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  int r;
  // A direct exec's child stays a zombie for now: its pid still names its
  // process group, which dies with it if it had exec'd.
  int options = WEXITED | (notify ? WNOHANG : 0) | (direct_ ? WNOWAIT : 0);
  do r = waitid(static_cast<idtype_t>(P_PIDFD), pidfd_, &info, options);
  while (r < 0 && errno == EINTR);
  // Not exited yet (a spurious wake-up); a waitid error (cannot happen for
  // our own unreaped child) is treated as gone, with no exit status.
  if (r == 0 && info.si_pid == 0) return;
  if (direct_) {
    // The pidfd was seen before the status socket's EOF.
    if (notify && done_ && ExecedDirectly()) {
      HandOverProgram(true);
      return;
    }
    if (cgroup_ != nullptr) cgroup_->Kill();  // it may have exec'd and started others
    KillGroupAndReap(pid_);
  }
  const bool killed = state_ == State::kKilled;
  if (status_fd_ >= 0) ReadStatus(true);  // the terminal, sent before the program's exec
  StopWatching();
  state_ = State::kDone;
  close(pidfd_);
  pidfd_ = -1;

  // The kernel stored these pids before clone returned (0 = none).
  int init_pid = ctl_->init_pid;
  int program_pid = ctl_->program_pid;
  ProgramWatch* program = nullptr;
  ChildResult result;
  result.pid = pid_;
  if (killed) {
    result.failure = parent_failure_;
  } else if (info.si_code == CLD_EXITED && info.si_status == 0 && !direct_) {
    // Hand the keeper init over only to a completion that will receive it
    // (at teardown it is killed below like on any failure).
    if (init_pid > 0 && notify && done_) {
      if (runner_->keepers_.Adopt(init_pid, &result.failure)) {
        result.keeper_pid = init_pid;
        result.keeper_fd = keeper_write_;
        keeper_write_ = -1;
      }
      init_pid = 0;  // adopted, or already killed and reaped by AdoptKeeper
    }
    if (spec_.has_exec && program_pid <= 0) {
      result.failure = {ECHILD, "clone", "", kChildStepNames[kStepStartProgram],
                        "the child exited 0 without starting the program"};
    } else if (spec_.has_exec && TerminalMissing()) {
      // Its master was sent but not received (recvmsg had no fd left for it).
      result.failure = {EMFILE, "recvmsg", "terminal", kChildStepNames[kStepTerminal], ""};
    } else if (spec_.has_exec && notify && done_) {
      // The program has exec'd: from here on it is watched on its own.
      ProgramOutput output;
      std::string cgroup_path = cgroup_ != nullptr ? cgroup_->path() : "";
      program = ProgramWatch::Start(runner_->loop_, &runner_->programs_, program_pid,
                                    Setup(&output), &result.failure);
      if (program != nullptr) {
        result.program_pid = program_pid;
        result.cgroup_path = cgroup_path;
        stdio_.HandOver(result.stdio);
        result.terminal_fd = terminal_fd_;
        terminal_fd_ = -1;
      }
      program_pid = 0;  // watched, or already killed and reaped by Start
    }
  }
  if (result.failure.err != 0) {
    // set above: a parent action failed, or the keeper could not be watched
  } else if (info.si_code == CLD_EXITED && info.si_status == 0 && !direct_) {
    result.fds = std::move(held_fds_);
    if (spec_.has_read) {
      result.has_data = true;
      result.data.assign(program_.read_buf, ctl_->data_len);
    }
  } else if (info.si_code == CLD_EXITED && ctl_->err != 0) {
    result.failure = ChildReportedFailure(spec_, *ctl_, runner_->pause_.path);
  } else {
    result.failure = ChildDeathFailure(info, spec_, *ctl_);
  }
  // Any path but success: the keeper init (created but not adopted) dies,
  // and neither the held fds nor the write end survive.
  if (init_pid > 0) KillAndReapKeeper(init_pid);
  // Likewise a program not handed to a ProgramWatch (it may have exec'd
  // when the child was killed right after: its group goes too).
  if (cgroup_ != nullptr) cgroup_->Kill();
  if (program_pid > 0) KillGroupAndReap(program_pid);
  DropCgroup();
  stdio_.Close();
  if (terminal_fd_ >= 0) close(terminal_fd_);
  terminal_fd_ = -1;
  if (keeper_write_ >= 0) close(keeper_write_);
  keeper_write_ = -1;
  for (int fd : held_fds_) close(fd);
  held_fds_.clear();
  runner_->regions_.Release(&region_);
  runner_->runs_.remove(this);

  std::unique_ptr<ChildCompletion> done = std::move(done_);
  if (notify && done && program != nullptr) {
    // The watch owns the completion from now on; the pipe ends and pid go
    // out first, the exit status (on a later loop turn) after.
    ChildCompletion* c = done.get();
    program->SetCompletion(std::move(done));
    c->Complete(std::move(result));
  } else if (notify && done) {
    done->Complete(std::move(result));
  }
  if (!notify) {
    for (int fd : result.fds) close(fd);  // (a keeper is never adopted here)
  }
  // `this` is deleted by OnClosed once every handle has closed.
  if (open_handles_ == 0) delete this;
}

void ChildRun::OnPidfd(uv_poll_t* h, int, int) {
  static_cast<ChildRun*>(h->data)->Reap(true);
}

void ChildRun::OnStatus(uv_poll_t* h, int status, int) {
  ChildRun* run = static_cast<ChildRun*>(h->data);
  if (status < 0) {
    uv_poll_stop(h);
    return;
  }
  run->OnStatusReadable();
}

void ChildRun::OnTimeout(uv_timer_t* h) {
  ChildRun* run = static_cast<ChildRun*>(h->data);
  run->Kill(TimeoutFailure(run->CurrentStepName(), run->timer_ms_));
}

void ChildRun::OnClosed(uv_handle_t* h) {
  ChildRun* run = static_cast<ChildRun*>(h->data);
  if (--run->open_handles_ == 0) delete run;
}

std::string ChildRun::CurrentStepName() const { return CurrentStep(spec_, *ctl_); }

void ChildRun::Abandon() {
  done_.reset();
  PidfdSignal(pidfd_, SIGKILL);
  Reap(false);  // blocking waitid: the child is dying
}
