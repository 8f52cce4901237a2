#include "child/program_watch.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "child/child_result.h"
#include "child/program_cgroup.h"
#include "compat.h"
#include "ns_fd.h"

namespace {

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
                                  const ProgramSetup& setup, ChildFailure* failure) {
  // Safe against pid reuse: `pid` is our child and nobody else reaps it.
  int pidfd = PidfdOpen(pid);
  if (pidfd < 0) {
    if (setup.cgroup != nullptr) setup.cgroup->Kill();
    KillGroupAndReap(pid);
    if (setup.cgroup != nullptr) setup.cgroup->RemoveNow();
    if (setup.output != nullptr) {
      for (int fd : setup.output->fds) close(fd);
    }
    *failure = {-pidfd, "pidfd_open", "program " + std::to_string(pid), "", ""};
    return nullptr;
  }
  return Adopt(loop, list, pid, pidfd, setup, false, failure);
}

ProgramWatch* ProgramWatch::Adopt(uv_loop_t* loop, std::list<ProgramWatch*>* list, int pid, int pidfd,
                                  const ProgramSetup& setup, bool exited, ChildFailure* failure) {
  ProgramWatch* w = new ProgramWatch(list, pid, pidfd, setup);
  w->loop_ = loop;
  list->push_back(w);
  int64_t timeout_ms = setup.timeout_ms;
  const ProgramOutput* output = setup.output;
  int r = 0;
  if (exited) {
    w->ReapExited();
  } else {
    r = uv_poll_init(loop, &w->poll_, pidfd);
    if (r == 0) {
      w->poll_.data = w;
      w->poll_open_ = true;
      r = uv_poll_start(&w->poll_, UV_READABLE, OnExit);
    }
  }
  if (r == 0 && timeout_ms >= 0 && !exited) {
    r = uv_timer_init(loop, &w->timer_);
    if (r == 0) {
      w->timer_.data = w;
      w->timer_open_ = true;
      r = uv_timer_start(&w->timer_, OnTimeout, static_cast<uint64_t>(timeout_ms), 0);
    }
  }
  if (output != nullptr && !w->StartOutput(loop, *output, exited) && r == 0) r = UV_ENOMEM;
  if (r != 0) {
    w->KillAndReap();
    *failure = {-r, "uv_poll_start", "program", "", ""};
    return nullptr;
  }
  return w;
}

// Takes both read ends (closed with the watch, whatever happens); with
// `drain`, reads what they hold first and polls only those not at EOF.
bool ProgramWatch::StartOutput(uv_loop_t* loop, const ProgramOutput& output, bool drain) {
  exit_.collected = true;
  cap_ = output.cap;
  for (int i = 0; i < 2; i++) {
    out_[i].fd = output.fds[i];
    out_[i].open = true;
  }
  for (int i = 0; i < 2; i++) {
    Stream& s = out_[i];
    if (drain && Drain(i)) {
      StopStream(i);
      continue;
    }
    int r = uv_poll_init(loop, &s.poll, s.fd);
    if (r != 0) return false;
    s.poll.data = this;
    s.polled = true;
    if (uv_poll_start(&s.poll, UV_READABLE, OnOutput) != 0) return false;
  }
  return true;
}

void ProgramWatch::SetCompletion(std::unique_ptr<ChildCompletion> done) { done_ = std::move(done); }

void ProgramWatch::Signal(int sig) {
  if (sig == SIGKILL && cgroup_ != nullptr) cgroup_->Kill();
  if (reaped_) return;  // its pid and group id may be someone else's now
  kill(-pid_, sig);
  // getpgid works on our unreaped child, zombie or not.
  if (getpgid(pid_) != pid_) PidfdSignal(pidfd_, sig);
}

void ProgramWatch::StopCollecting() {
  exit_.truncated = true;
  StopStream(0);
  StopStream(1);
  MaybeComplete();
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
  if (cgroup_ != nullptr) {
    ProgramCgroup* cg = cgroup_;
    cgroup_ = nullptr;
    cg->RemoveNow();  // also when a Remove was under way: its callback is dropped
  }
  Release();
}

void ProgramWatch::OnExit(uv_poll_t* h, int status, int) {
  ProgramWatch* w = static_cast<ProgramWatch*>(h->data);
  siginfo_t info;
  // WNOWAIT first: while the leader is an unreaped zombie its pid still
  // names its process group, so the kill in ReapExited reaches only what
  // the program started (background jobs that would hold the stdio pipes
  // and outlive the request), never a process that reused the number.
  if (!WaitPidfd(w->pidfd_, WNOHANG | WNOWAIT, &info)) {
    if (status >= 0) return;  // a spurious wake-up
    PidfdSignal(w->pidfd_, SIGKILL);  // the poll failed: do not leave it unwatched
  }
  w->ReapExited();
  w->MaybeComplete();
}

// The program has exited (a zombie): kills what is left of its group,
// reaps it, stops watching the process.
void ProgramWatch::ReapExited() {
  siginfo_t info;
  kill(-pid_, SIGKILL);
  WaitPidfd(pidfd_, 0, &info);
  reaped_ = true;
  exit_.signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
  exit_.value = info.si_status;
  StopProcess();
  RemoveCgroup();
}

// The program is reaped: what it left in its cgroup (setsid or not) is
// killed; the watch is done once the cgroup is empty and removed.
void ProgramWatch::RemoveCgroup() {
  if (cgroup_ == nullptr || removing_) return;
  removing_ = true;
  // Empty already: done within Remove; the caller checks Done() itself.
  in_remove_ = true;
  cgroup_->Remove(loop_, cgroups_, [this]() {
    cgroup_ = nullptr;
    if (!in_remove_) MaybeComplete();
  });
  in_remove_ = false;
}

void ProgramWatch::OnOutput(uv_poll_t* h, int status, int) {
  ProgramWatch* w = static_cast<ProgramWatch*>(h->data);
  w->ReadStream(h == &w->out_[0].poll ? 0 : 1, status < 0);
}

// Reads what the pipe has (up to kReadsPerWakeup reads), keeping the first
// cap_ bytes of the stream. True at EOF (every write end closed) or on a
// read error: the stream is over.
bool ProgramWatch::Drain(int i) {
  std::string& kept = exit_.output[i];
  char buf[kReadChunk];
  for (int reads = 0; reads < kReadsPerWakeup; reads++) {
    ssize_t n = read(out_[i].fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    if (n <= 0) return true;
    size_t room = cap_ - kept.size();
    if (static_cast<size_t>(n) > room) exit_.truncated = true;
    kept.append(buf, static_cast<size_t>(n) < room ? static_cast<size_t>(n) : room);
  }
  return false;  // more to read: the poll fires again (level-triggered)
}

void ProgramWatch::ReadStream(int i, bool failed) {
  if (!Drain(i) && !failed) return;
  StopStream(i);
  MaybeComplete();
}

void ProgramWatch::OnTimeout(uv_timer_t* h) {
  ProgramWatch* w = static_cast<ProgramWatch*>(h->data);
  w->exit_.timed_out = true;
  w->Signal(SIGKILL);
  PidfdSignal(w->pidfd_, SIGKILL);
}

// Once the program is reaped and its output read to the end: hands the
// exit status (and output) to the completion.
void ProgramWatch::MaybeComplete() {
  if (!Done()) return;
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

ProgramExit ProgramWatch::TakeExit() {
  ProgramExit exit = std::move(exit_);
  done_.reset();
  Release();
  return exit;
}

void ProgramWatch::StopStream(int i) {
  Stream& s = out_[i];
  if (!s.open) return;
  if (s.polled) CloseHandle(reinterpret_cast<uv_handle_t*>(&s.poll));
  s.polled = false;
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
