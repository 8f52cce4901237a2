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

// Reads per wake-up of one output pipe before yielding to the loop
// (level-triggered: the poll fires again while data is left).
constexpr int kReadsPerWakeup = 16;
constexpr size_t kReadChunk = 64 * 1024;

}  // namespace

void KillGroupAndReap(int pid) {
  kill(-pid, SIGKILL);  // ESRCH when it never got to setpgid: fine
  kill(pid, SIGKILL);
  siginfo_t info;
  while (waitid(P_PID, pid, &info, WEXITED) < 0 && errno == EINTR) {
  }
}

ProgramWatch* ProgramWatch::Start(uv_loop_t* loop, std::list<ProgramWatch*>* list, int pid,
                                  int64_t timeout_ms, const ProgramOutput* output,
                                  ChildFailure* failure) {
  // Safe against pid reuse: `pid` is our child and nobody else reaps it.
  int pidfd = PidfdOpen(pid);
  if (pidfd < 0) {
    KillGroupAndReap(pid);
    *failure = {-pidfd, "pidfd_open", "program " + std::to_string(pid), "", ""};
    return nullptr;
  }
  return Adopt(loop, list, pid, pidfd, timeout_ms, output, failure);
}

ProgramWatch* ProgramWatch::Adopt(uv_loop_t* loop, std::list<ProgramWatch*>* list, int pid, int pidfd,
                                  int64_t timeout_ms, const ProgramOutput* output,
                                  ChildFailure* failure) {
  ProgramWatch* w = new ProgramWatch(list, pid, pidfd);
  list->push_back(w);
  int r = uv_poll_init(loop, &w->poll_, pidfd);
  if (r == 0) {
    w->poll_.data = w;
    w->poll_open_ = true;
    r = uv_poll_start(&w->poll_, UV_READABLE, OnExit);
  }
  if (r == 0 && timeout_ms >= 0) {
    r = uv_timer_init(loop, &w->timer_);
    if (r == 0) {
      w->timer_.data = w;
      w->timer_open_ = true;
      r = uv_timer_start(&w->timer_, OnTimeout, static_cast<uint64_t>(timeout_ms), 0);
    }
  }
  if (r == 0 && output != nullptr && !w->StartOutput(loop, *output)) r = UV_ENOMEM;
  if (r != 0) {
    w->KillAndReap();
    *failure = {-r, "uv_poll_start", "program", "", ""};
    return nullptr;
  }
  return w;
}

// Polls both read ends; on failure stops what it started and leaves the
// fds to the caller.
bool ProgramWatch::StartOutput(uv_loop_t* loop, const ProgramOutput& output) {
  exit_.collected = true;
  cap_ = output.cap;
  for (int i = 0; i < 2; i++) {
    Stream& s = out_[i];
    int r = uv_poll_init(loop, &s.poll, output.fds[i]);
    if (r == 0) {
      s.poll.data = this;
      r = uv_poll_start(&s.poll, UV_READABLE, OnOutput);
      if (r != 0) CloseHandle(reinterpret_cast<uv_handle_t*>(&s.poll));
    }
    if (r != 0) {
      for (int j = 0; j < i; j++) {
        CloseHandle(reinterpret_cast<uv_handle_t*>(&out_[j].poll));
        out_[j].open = false;
        out_[j].fd = -1;
      }
      return false;
    }
    s.fd = output.fds[i];
    s.open = true;
  }
  return true;
}

void ProgramWatch::SetCompletion(std::unique_ptr<ChildCompletion> done) { done_ = std::move(done); }

void ProgramWatch::Signal(int sig) {
  if (reaped_) return;  // its pid and group id may be someone else's now
  kill(-pid_, sig);
  // getpgid works on our unreaped child, zombie or not.
  if (getpgid(pid_) != pid_) PidfdSignal(pidfd_, sig);
}

void ProgramWatch::KillAndReap() {
  done_.reset();
  if (!reaped_) {
    Signal(SIGKILL);
    PidfdSignal(pidfd_, SIGKILL);
    siginfo_t info;
    WaitPidfd(pidfd_, 0, &info);
    reaped_ = true;
  }
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
  w->reaped_ = true;
  w->exit_.signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
  w->exit_.value = info.si_status;
  w->StopProcess();
  w->MaybeComplete();
}

void ProgramWatch::OnOutput(uv_poll_t* h, int status, int) {
  ProgramWatch* w = static_cast<ProgramWatch*>(h->data);
  w->ReadStream(h == &w->out_[0].poll ? 0 : 1, status < 0);
}

// Drains what the pipe has (up to kReadsPerWakeup reads), keeping the first
// cap_ bytes of the stream; ends the stream at EOF or on an error.
void ProgramWatch::ReadStream(int i, bool failed) {
  Stream& s = out_[i];
  std::string& kept = exit_.output[i];
  char buf[kReadChunk];
  bool ended = failed;
  for (int reads = 0; !ended && reads < kReadsPerWakeup; reads++) {
    ssize_t n = read(s.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      ended = true;  // EOF: every write end is closed; or a read error
      break;
    }
    size_t room = cap_ - kept.size();
    if (static_cast<size_t>(n) > room) exit_.truncated = true;
    kept.append(buf, static_cast<size_t>(n) < room ? static_cast<size_t>(n) : room);
  }
  if (!ended) return;  // more to read: the poll fires again
  StopStream(i);
  MaybeComplete();
}

void ProgramWatch::OnTimeout(uv_timer_t* h) {
  ProgramWatch* w = static_cast<ProgramWatch*>(h->data);
  w->Signal(SIGKILL);
  PidfdSignal(w->pidfd_, SIGKILL);
}

// Once the program is reaped and its output read to the end: hands the
// exit status (and output) to the completion.
void ProgramWatch::MaybeComplete() {
  if (!reaped_ || out_[0].open || out_[1].open) return;
  std::unique_ptr<ChildCompletion> done = std::move(done_);
  ProgramExit exit = std::move(exit_);
  Release();  // `this` may be deleted from here on
  if (done) done->ProgramExited(exit);
}

void ProgramWatch::CloseHandle(uv_handle_t* h) {
  closing_++;
  uv_close(h, OnClosed);  // also stops it
}

// Stops and closes the process handles before closing the pidfd (epoll
// must never see a reused fd).
void ProgramWatch::StopProcess() {
  if (poll_open_) CloseHandle(reinterpret_cast<uv_handle_t*>(&poll_));
  if (timer_open_) CloseHandle(reinterpret_cast<uv_handle_t*>(&timer_));
  poll_open_ = timer_open_ = false;
  if (pidfd_ >= 0) close(pidfd_);
  pidfd_ = -1;
}

void ProgramWatch::StopStream(int i) {
  Stream& s = out_[i];
  if (!s.open) return;
  CloseHandle(reinterpret_cast<uv_handle_t*>(&s.poll));
  close(s.fd);
  s.fd = -1;
  s.open = false;
}

// Leaves the runner's list and closes everything; deleted once every
// handle has closed.
void ProgramWatch::Release() {
  list_->remove(this);
  StopProcess();
  StopStream(0);
  StopStream(1);
  released_ = true;
  if (closing_ == 0) delete this;
}

void ProgramWatch::OnClosed(uv_handle_t* h) {
  ProgramWatch* w = static_cast<ProgramWatch*>(h->data);
  if (--w->closing_ == 0 && w->released_) delete w;
}

ProgramWatch::~ProgramWatch() = default;
