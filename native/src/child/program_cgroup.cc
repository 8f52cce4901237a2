#include "child/program_cgroup.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "child/cgroup_pool.h"
#include "child/child_result.h"
#include "child/child_steps.h"

ProgramCgroup* ProgramCgroup::Create(const std::string& parent, const std::string& name, ChildFailure* failure) {
  std::string path = parent + "/" + name;
  if (mkdir(path.c_str(), 0755) < 0) {
    *failure = {errno, "mkdir", path, kParentStepNames[kParentStepCreateCgroup], ""};
    return nullptr;
  }
  ProgramCgroup* cg = new ProgramCgroup();
  cg->path_ = path;
  const char* failed = "open";
  cg->dir_fd_ = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg->dir_fd_ >= 0) cg->kill_fd_ = openat(cg->dir_fd_, "cgroup.kill", O_WRONLY | O_CLOEXEC);
  if (cg->kill_fd_ >= 0) cg->events_fd_ = openat(cg->dir_fd_, "cgroup.events", O_RDONLY | O_CLOEXEC);
  if (cg->events_fd_ < 0) {
    int err = errno;
    delete cg;  // closes what was opened and removes the (empty) directory
    *failure = {err, failed, path, kParentStepNames[kParentStepCreateCgroup],
                err == ENOENT ? "no cgroup.kill or cgroup.events: not a cgroup v2 of Linux >= 5.14" : ""};
    return nullptr;
  }
  return cg;
}

void ProgramCgroup::Kill() {
  killed_ = true;
  if (kill_fd_ < 0) return;
  ssize_t r;
  do r = pwrite(kill_fd_, "1", 1, 0);
  while (r < 0 && errno == EINTR);
}

// "populated 0" in cgroup.events (read from the start each time: kernfs
// re-arms the EPOLLPRI notification on each read).
bool ProgramCgroup::Empty() const {
  char buf[256];
  ssize_t n;
  do n = pread(events_fd_, buf, sizeof buf - 1, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return true;  // cannot read: gone, nothing to wait for
  buf[n] = '\0';
  const char* line = std::strstr(buf, "populated ");
  return line == nullptr || line[10] == '0';
}

void ProgramCgroup::Remove(uv_loop_t* loop, std::list<ProgramCgroup*>* pending,
                           std::function<void()> done) {
  // Left empty: nothing to kill, and never killed it may serve again.
  if (Empty()) {
    if (!killed_ && pool_ != nullptr && pool_->Put(this)) {
      if (done) done();
      return;
    }
    done_ = std::move(done);
    Finish();
    return;
  }
  done_ = std::move(done);
  pending_ = pending;
  pending_->push_back(this);
  Kill();
  if (Empty()) {
    Finish();
    return;
  }
  int r = uv_poll_init(loop, &poll_, events_fd_);
  if (r == 0) {
    poll_.data = this;
    polled_ = true;
    r = uv_poll_start(&poll_, UV_PRIORITIZED, OnEvents);
  }
  // Cannot watch it: wait here instead (processes SIGKILLed exit quickly).
  if (r != 0) RemoveNow();
}

void ProgramCgroup::OnEvents(uv_poll_t* h, int status, int) {
  ProgramCgroup* cg = static_cast<ProgramCgroup*>(h->data);
  if (status < 0) {
    cg->RemoveNow();
    return;
  }
  if (cg->Empty()) cg->Finish();
}

// Empty: removes the directory, calls done, deletes itself (once the poll
// has closed).
void ProgramCgroup::Finish() {
  std::function<void()> done = std::move(done_);
  done_ = nullptr;
  if (pending_ != nullptr) pending_->remove(this);
  pending_ = nullptr;
  bool polled = polled_;
  polled_ = false;
  // uv_close takes the fd out of epoll at once: the fds may close after it.
  if (polled) {
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_),
             [](uv_handle_t* h) { delete static_cast<ProgramCgroup*>(h->data); });
  }
  CloseFds();
  rmdir(path_.c_str());  // EBUSY only if something got in meanwhile: left behind
  path_.clear();
  if (!polled) delete this;
  if (done) done();
}

void ProgramCgroup::RemoveNow() {
  done_ = nullptr;
  Kill();
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (!Empty()) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    if (spent >= 1000) break;
    struct pollfd p = {events_fd_, POLLPRI, 0};
    poll(&p, 1, static_cast<int>(1000 - spent));
  }
  Finish();
}

namespace {

// The whole of `dir`/`name` is `want` (a trailing newline aside).
bool FileIs(int dir, const char* name, const char* want) {
  int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[128];
  ssize_t n;
  do n = pread(fd, buf, sizeof buf - 1, 0);
  while (n < 0 && errno == EINTR);
  close(fd);
  if (n < 0) return false;
  if (n > 0 && buf[n - 1] == '\n') n--;
  buf[n] = '\0';
  return std::strcmp(buf, want) == 0;
}

}  // namespace

bool ProgramCgroup::Idle() const {
  char buf[256];
  ssize_t n;
  do n = pread(events_fd_, buf, sizeof buf - 1, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return false;
  buf[n] = '\0';
  return std::strstr(buf, "populated 0\n") != nullptr && std::strstr(buf, "frozen 1") == nullptr;
}

// Cheap on purpose (it runs on the event loop at each program's end): one
// fstat, one read of an open fd, one small file. What it leaves out
// (cgroup.max.*, cgroup.type, cgroup.pressure, the files' owners) only root
// of the initial user namespace can change, which can write every
// program's cgroup by its path anyway (see cgroup_pool.h).
bool ProgramCgroup::AsCreated() const {
  struct stat st;
  // kernfs: a directory's link count is 2 + its subdirectories (sub-cgroups).
  if (dir_fd_ < 0 || fstat(dir_fd_, &st) < 0 || st.st_nlink != 2 || st.st_uid != 0 || st.st_gid != 0 ||
      (st.st_mode & 07777) != 0755) {
    return false;
  }
  // No controller: no limit file (memory.max, pids.max, ...) that anyone set.
  return Idle() && FileIs(dir_fd_, "cgroup.controllers", "");
}

bool ProgramCgroup::Reopen() {
  dir_fd_ = open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ >= 0) kill_fd_ = openat(dir_fd_, "cgroup.kill", O_WRONLY | O_CLOEXEC);
  if (kill_fd_ >= 0) events_fd_ = openat(dir_fd_, "cgroup.events", O_RDONLY | O_CLOEXEC);
  if (events_fd_ >= 0) return true;
  CloseFds();
  return false;
}

void ProgramCgroup::Discard() {
  if (rmdir(path_.c_str()) == 0 || errno == ENOENT || !Reopen()) {
    path_.clear();
    delete this;
    return;
  }
  RemoveNow();  // blocking, at most ~1 s: only what root moved into an idle cgroup
}

void ProgramCgroup::CloseFds() {
  for (int* fd : {&events_fd_, &kill_fd_, &dir_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

ProgramCgroup::~ProgramCgroup() {
  CloseFds();
  if (!path_.empty()) rmdir(path_.c_str());  // Create's failure path: still empty
}
