#include "program_watch.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "child_runner.h"
#include "compat.h"
#include "ns_fd.h"

namespace {

// waitid on the pidfd, retried on EINTR. Returns false when the program
// has not exited yet (only possible with WNOHANG).
bool WaitPidfd(int pidfd, int options, siginfo_t* info) {
  std::memset(info, 0, sizeof *info);
  int r;
  do r = waitid(static_cast<idtype_t>(P_PIDFD), pidfd, info, WEXITED | options);
  while (r < 0 && errno == EINTR);
  return !(r == 0 && info->si_pid == 0);
}

}  // namespace

void KillGroupAndReap(int pid) {
  kill(-pid, SIGKILL);  // ESRCH when it never got to setpgid: fine
  kill(pid, SIGKILL);
  siginfo_t info;
  while (waitid(P_PID, pid, &info, WEXITED) < 0 && errno == EINTR) {
  }
}

ProgramWatch* ProgramWatch::Start(uv_loop_t* loop, std::list<ProgramWatch*>* list, int pid,
                                  int64_t timeout_ms, ChildFailure* failure) {
  // Safe against pid reuse: `pid` is our child and nobody else reaps it.
  int pidfd = PidfdOpen(pid);
  if (pidfd < 0) {
    KillGroupAndReap(pid);
    *failure = {-pidfd, "pidfd_open", "program " + std::to_string(pid), "", ""};
    return nullptr;
  }
  return Adopt(loop, list, pid, pidfd, timeout_ms, failure);
}

ProgramWatch* ProgramWatch::Adopt(uv_loop_t* loop, std::list<ProgramWatch*>* list, int pid, int pidfd,
                                  int64_t timeout_ms, ChildFailure* failure) {
  ProgramWatch* w = new ProgramWatch(list, pid, pidfd);
  int r = uv_poll_init(loop, &w->poll_, pidfd);
  if (r == 0) {
    w->poll_.data = w;
    w->open_handles_++;
    r = uv_poll_start(&w->poll_, UV_READABLE, OnExit);
  }
  if (r == 0 && timeout_ms >= 0) {
    r = uv_timer_init(loop, &w->timer_);
    if (r == 0) {
      w->timer_.data = w;
      w->open_handles_++;
      r = uv_timer_start(&w->timer_, OnTimeout, static_cast<uint64_t>(timeout_ms), 0);
    }
  }
  list->push_back(w);
  if (r != 0) {
    w->KillAndReap();
    *failure = {-r, "uv_poll_start", "program", "", ""};
    return nullptr;
  }
  return w;
}

void ProgramWatch::SetCompletion(std::unique_ptr<ChildCompletion> done) { done_ = std::move(done); }

void ProgramWatch::Signal(int sig) {
  kill(-pid_, sig);
  // getpgid works on our unreaped child, zombie or not.
  if (getpgid(pid_) != pid_) PidfdSignal(pidfd_, sig);
}

void ProgramWatch::KillAndReap() {
  done_.reset();
  Signal(SIGKILL);
  PidfdSignal(pidfd_, SIGKILL);
  siginfo_t info;
  WaitPidfd(pidfd_, 0, &info);
  Release();
}

void ProgramWatch::OnExit(uv_poll_t* h, int status, int) {
  ProgramWatch* w = static_cast<ProgramWatch*>(h->data);
  siginfo_t info;
  // WNOWAIT first: while the leader is an unreaped zombie its pid still
  // names its process group, so the kill below reaches only what the
  // program started (background jobs that would hold the stdio pipes and
  // outlive the request), never a process that reused the number.
  if (!WaitPidfd(w->pidfd_, WNOHANG | WNOWAIT, &info)) {
    if (status >= 0) return;  // a spurious wake-up
    PidfdSignal(w->pidfd_, SIGKILL);  // the poll failed: do not leave it unwatched
  }
  kill(-w->pid_, SIGKILL);
  WaitPidfd(w->pidfd_, 0, &info);
  ProgramExit exit;
  exit.signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
  exit.value = info.si_status;
  std::unique_ptr<ChildCompletion> done = std::move(w->done_);
  w->Release();  // `w` is deleted once its handles have closed
  if (done) done->ProgramExited(exit);
}

void ProgramWatch::OnTimeout(uv_timer_t* h) {
  ProgramWatch* w = static_cast<ProgramWatch*>(h->data);
  w->Signal(SIGKILL);
  PidfdSignal(w->pidfd_, SIGKILL);
}

// Stops and closes the handles before closing the pidfd (epoll must never
// see a reused fd); deleted once every handle has closed.
void ProgramWatch::Release() {
  list_->remove(this);
  int handles = open_handles_;
  if (handles >= 1) uv_close(reinterpret_cast<uv_handle_t*>(&poll_), OnClosed);
  if (handles >= 2) uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnClosed);
  close(pidfd_);
  pidfd_ = -1;
  if (handles == 0) delete this;
}

void ProgramWatch::OnClosed(uv_handle_t* h) {
  ProgramWatch* w = static_cast<ProgramWatch*>(h->data);
  if (--w->open_handles_ == 0) delete w;
}

ProgramWatch::~ProgramWatch() = default;
