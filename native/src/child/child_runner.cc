// The per-request child, parent side.
//
// Protocol between the daemon (parent) and one child
// ---------------------------------------------------
// Memory, allocated before clone and returned to the runner's pool only
// after the child is reaped (or, direct exec, has exec'd):
//     stack  (MAP_PRIVATE)  [guard][16 KiB keeper init stack][guard][64 KiB stack]
//     shared (MAP_SHARED)   [ChildControl page][readFile buffer]
// The stack is private so that a fork-style child gets its own copy; the
// shared part is seen by the parent whatever the clone flavour.
// The child records its current step and, on failure, {syscall, errno} in
// ChildControl (as glibc's posix_spawn reports errors through shared
// memory: no extra wake-up), then exits 1. Exit status 0 = all steps done.
//
// Status socket: a SOCK_SEQPACKET|SOCK_CLOEXEC socketpair, created only
// when the parent must act while the child waits (idMap, holdNs); without
// those, a direct exec gets a pipe2(O_CLOEXEC|O_NONBLOCK) in its place,
// for its EOF only (see "Direct exec" below):
//     child  -> parent  ChildMessage{kMsgReadyForIdmap}  after unshare(USER)
//     parent            writes /proc/CHILD/{setgroups,uid_map,gid_map}
//     parent -> child   kGoByte
//     child  -> parent  ChildMessage{kMsgReadyForHold}   after all steps
//     parent            opens /proc/CHILD/ns/<name> for each holdNs name
//     parent -> child   kGoByte
// EOF instead of kGoByte means "give up" (the child exits with EPIPE);
// when a parent action fails the parent also SIGKILLs the child.
//
// Keeper init (spec unshares PID and holds pid_for_children): a pid
// namespace is usable (pid_for_children opens, fork into it works) only
// while it has an init, and dies forever when that init exits. So, like
// Kubernetes' pause container, an init lives as long as the caller holds
// the namespace, and it is a tiny program of its own (lxnsd-pause,
// native/src/pause_main.c: static, no libc, ~12 KiB RSS), not a fork of
// the daemon (which pinned a copy-on-write copy of the daemon, 5-27 MB RSS,
// and cost a page-table copy, ~3-4 ms, per keeper):
//     load     OpenPauseProgram: <addon dir>/lxnsd-pause opened O_PATH|
//              O_CLOEXEC at fd >= 3, once per addon instance (ChildRunner
//              owns it). Missing or not executable: runChild of a spec that
//              needs a keeper fails synchronously with the open's errno,
//              syscall "open", target its path, step "exec pause"; every
//              other spec still runs.
//     parent   pipe2(O_CLOEXEC) = keepalive {read, write}, before clone
//     child    closes its copy of `write` first thing
//     child    after unshare (+ idmap, timens offsets), step "start pid init":
//              clone(CLONE_VM|CLONE_VFORK|CLONE_PARENT|CLONE_PARENT_SETTID|
//              SIGCHLD) onto the keeper init stack (RawCloneOnStack). The
//              kernel allows CLONE_VM into another pid namespace (it refuses
//              only CLONE_THREAD there) and into another time namespace with
//              CLONE_VFORK (the child switches at exec): no page-table copy.
//              The kernel stores the init's pid (daemon's view) in
//              ChildControl::init_pid before clone returns, so the parent
//              knows it even if the child is killed right after. The child
//              sleeps until the init has exec'd or exited; if the init
//              recorded a failure it exits 1.
//     init     pid 1 of the new pid ns, in the child's other namespaces
//              (the new user ns too), the *daemon's* child, sharing the
//              child's memory until exec (raw syscalls only, like the
//              child). Step "exec pause": dup3(read, 0);
//              close_range(1, ~0U, CLOSE_RANGE_CLOEXEC) (the daemon's fds,
//              copies of other keepers' write ends, the pause fd itself: an
//              ELF file needs no fd after exec); PDEATHSIG=SIGKILL (kept by
//              exec); execveat(pause fd, "", {"lxnsd-pause"}, {},
//              AT_EMPTY_PATH): no path lookup, whatever its mount namespace.
//              A failure is recorded in ChildControl {step "exec pause",
//              syscall, errno} (the child is asleep: no race) and it exits.
//     pause    PDEATHSIG=SIGKILL again, comm "lxnsd-pause", SIGCHLD=SIG_IGN
//              (the kernel reaps orphans reparented to it), empty mask;
//              read(0) until EOF or error, then exit(0). Only fd 0 is open.
//              (getppid() is 0 there, the daemon being outside its pid ns,
//              so it cannot see a daemon that died before PDEATHSIG was
//              set; the pipe covers that: no write end left = EOF.)
//     parent   after the child exited 0: pidfd_open(init_pid) (safe: our
//              unreaped child), a Keeper watched by uv_poll_t on the pidfd
//              (readable once the init and so the whole namespace is gone),
//              reaped with waitid(P_PIDFD), poll closed before the pidfd.
//              ChildResult.keeper = {init_pid, write end}; the caller owns
//              the fd and releases the namespace by closing it.
//     failure  (child step, exec pause, parent action, timeout, cancel,
//              teardown, or the keeper cannot be watched): SIGKILL + blocking
//              waitid(P_PID) of the init, the write end closed. Nothing
//              else can have entered its namespace yet, so this is quick.
// ChildRunner::running() counts keepers; KillAll kills and reaps them.
//
// Exec specs (ChildSpec::has_exec; never with holdNs, readFile, writeFile):
//     parent   three pipe2(O_CLOEXEC|O_NONBLOCK) pairs, all fds >= 3; the
//              daemon's ends (stdin's write end, stdout's and stderr's read
//              ends) stay O_NONBLOCK, the program clears it on its own ends
//              (their own open file descriptions); argv, envp and the
//              candidate paths as
//              NULL-terminated arrays that live until the child is reaped
//              (direct exec: until the hand-over below)
//     program  (ProgramMain, raw syscalls) setpgid(0, 0); with mountProc: /
//              made MS_REC|MS_PRIVATE and a new proc on /proc; chdir(cwd);
//              setgroups([]), setgid, setuid when given; PDEATHSIG=SIGKILL;
//              dup3 of its pipe ends onto 0, 1, 2, each made blocking
//              (fcntl F_SETFL 0); close_range(3, ~0,
//              CLOEXEC); step "execve"; execve of each candidate (ENOENT,
//              ENOTDIR, EACCES: next; EACCES reported if any candidate gave
//              it). A failure is recorded as {step, syscall, errno} in
//              ChildControl and it exits 1.
//   Direct exec: the spec neither joins nor creates a pid or time namespace
//   (ExecsDirectly), so the child itself can be the program:
//     parent   also the status socket or pipe (above), for its
//              close-on-exec only
//     child    after its steps (joins, unshare, idmap, hostname, loopback)
//              runs ProgramMain itself, on its own stack: no second clone,
//              exit or reap. Its end of the status socket is O_CLOEXEC: it
//              closes when execve succeeds (the kernel closes CLOEXEC fds
//              after switching to the new mm, so the stack region is free
//              again then), or when the child exits.
//     parent   EOF on the status socket, or the pidfd readable first (then
//              peeked with waitid(WNOWAIT): the child stays a zombie): if no
//              parent failure was set, ChildControl has no error and its step
//              is "execve", the program runs (or ran: a child killed inside
//              execve counts as a program killed right after it): the run
//              stops watching, hands its pidfd to ProgramWatch::Adopt (which
//              reaps it), the region goes back to the pool and Complete()
//              gets the pid and the daemon's pipe ends. When the child has
//              exited by then (the pidfd came first, or a WNOWAIT peek at
//              the EOF says so), Adopt reaps it at once and reads what the
//              collected pipes hold; a program over by then needs no watch:
//              Complete() and ProgramExited() follow each other in the same
//              turn, with no poll. Otherwise the pidfd
//              ends the run: once the child has exited (still unreaped) its
//              process group is SIGKILLed (it may have exec'd and started
//              others before a timeout or cancel killed it), then it is
//              reaped and Complete() gets the failure: the parent's
//              (timeout, cancel, idmap), else the child's report, else its
//              death.
//   Program of its own: the spec joins or creates a pid or time namespace,
//   which take effect only for the caller's children (pid_for_children,
//   time_for_children), as with nsenter/unshare --fork:
//     child    after its steps, step "start program":
//              clone(CLONE_VM|CLONE_VFORK|CLONE_PARENT|CLONE_PARENT_SETTID|
//              SIGCHLD) onto the spare stack, as for the keeper init: no
//              page-table copy, the program is the daemon's own child
//              (CLONE_PARENT) in the child's namespaces, and it lands in the
//              joined or new pid namespace (pid_for_children) and, at exec,
//              in time_for_children. The kernel stores its pid (daemon's
//              view) in ChildControl::program_pid before clone returns.
//     program  ProgramMain, the child asleep until it has exec'd or exited
//              (no race on ChildControl).
//     child    clone returned (the program exec'd or exited): exits 0, or 1
//              when the program recorded a failure.
//     parent   the child exited 0 = the program runs: pidfd_open(program)
//              (our unreaped child: safe), a ProgramWatch (program_watch.h)
//              takes it over with its own poll and, when timeoutMs was
//              given, a timer for what is left of it; Complete() gets the
//              pid and the daemon's pipe ends, ProgramExited() the status
//              once it is reaped (after its process group is SIGKILLed, so
//              nothing it started outlives it). Any other outcome: the
//              program's group and the program are SIGKILLed and it is
//              reaped (blocking; pre-exec it has no children), the pipe
//              ends closed, and Complete() gets the failure.
//     No extra wake-up or pipe tells the daemon that execve happened: the
//     child's own exit does (CLONE_VFORK returns at the program's exec).
//   Either way, ProgramWatch (program_watch.h): a poll on the program's
//   pidfd and, with timeoutMs, a timer for what is left of it. At exit
//   (waitid WNOWAIT first: the zombie's pid still names its group) the
//   group is SIGKILLed, then the program is reaped. With exec.collectOutput
//   (Run) the watch also owns the daemon's stdout and stderr read ends (the
//   caller gets -1 for them): a poll on each, read on to EOF, the first
//   collectOutput bytes of each kept; ProgramExited() comes once the program
//   is reaped and both pipes are at EOF, with the output. A reaped watch
//   still reading is never signalled (its pid may be someone else's).
//
// Program cgroup (exec.cgroup_parent; program_cgroup.h): before clone,
// mkdir <parent>/program-<daemon pid>-<run id> and open it, its cgroup.kill
// and cgroup.events (a failure: step "create cgroup", nothing started). The
// child is created with clone3(CLONE_INTO_CGROUP) on the same stack (the
// only difference from the clone() path), so its pre-exec steps, the
// program (direct or of its own: cloned by the child, it inherits the
// cgroup) and everything the program starts are in it from birth; setsid
// leaves the process group, never the cgroup. The ProgramWatch owns it from
// the hand-over: SIGKILL (timeout, kill(9), abort) also writes cgroup.kill;
// after the program is reaped, cgroup.kill, then a uv_poll (UV_PRIORITIZED:
// kernfs signals EPOLLPRI on change) on cgroup.events until "populated 0",
// then rmdir; only then is the watch Done() and ProgramExited() called. A
// run that ends without a program hands it to the runner (cgroups_), which
// kills, waits the same way and removes it; teardown (KillAll) waits for at
// most ~1 s per cgroup, blocking. running() counts cgroups being removed.
//
// Ids: every run gets a counter id (never reused, unlike a pid); Cancel and
// SignalProgram name runs and programs by it, so a program reaped while its
// output is still being read can never be confused with a new process that
// got its pid.
//
// Watching: uv_poll_t on the pidfd (readable = exited) and on the status
// socket, a uv_timer_t for the timeout; nothing blocks the loop. The pidfd
// poll is the single place a run ends (but for a direct exec's hand-over,
// where a ProgramWatch takes the pidfd and reaps): waitid(P_PIDFD) reaps
// exactly this child (never waitpid(-1): libuv reaps its own children), the
// polls and the timer are stopped and closed before the fds, the region
// goes back to the pool, and the completion runs once. Failure precedence:
// timeout/cancel, then a failed parent action, then the child's own report,
// then its death.
#include "child/child_runner.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "compat.h"
#include "ns_fd.h"
#include "ns_table.h"
#include "child/raw_syscall.h"

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kStackSize = 64 * 1024;
// The keeper init's stack until it execs: a few syscalls' worth.
constexpr size_t kInitStackSize = 16 * 1024;
constexpr size_t kStackRegionSize = kPage + kInitStackSize + kPage + kStackSize;

size_t RoundUp(size_t n) { return (n + kPage - 1) / kPage * kPage; }

// Why some children must not share memory (verified on kernel 6.18, see
// test/native/child-runner.test.ts "clone modes"):
// - setns(CLONE_NEWTIME) refuses with EUSERS unless the caller's mm is used
//   by no other process (timens_install -> current_is_single_threaded), and
//   a CLONE_VM child shares the daemon's mm.
// - unshare(CLONE_NEWTIME) only changes time_for_children and works from a
//   CLONE_VM child, as do setns/unshare of USER (userns_install only wants
//   a private fs_struct and thread group, which a CLONE_VM child without
//   CLONE_FS/CLONE_THREAD has) and every other type.
// A fork-style child copies the daemon's page tables (slower), so it is
// used only where it is needed.
bool NeedsForkStyle(const ChildSpec& spec) {
  if (spec.target.has && (spec.target.ns_flags & CLONE_NEWTIME)) return true;
  for (const ChildJoin& j : spec.join) {
    if (j.nstype & CLONE_NEWTIME) return true;
  }
  return false;
}

// One "Name:\t<hex>" mask line of /proc/self/status; false when missing.
bool StatusMask(const char* text, const char* name, uint64_t* mask) {
  const char* line = std::strstr(text, name);
  if (line == nullptr) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long value = std::strtoull(line + std::strlen(name), &end, 16);
  if (errno != 0 || end == line + std::strlen(name)) return false;
  *mask = value;
  return true;
}

// Signals the daemon handles or ignores: the child resets exactly these.
// From /proc/self/status (SigCgt | SigIgn, bit sig - 1, as the kernel keeps
// them for the whole thread group): three syscalls where asking
// rt_sigaction for each signal takes 64 (~1 us each on a VM).
uint64_t SignalsToReset() {
  char buf[4096];
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    size_t len = 0;
    for (;;) {
      ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      len += static_cast<size_t>(n);
      if (len == sizeof buf - 1) break;
    }
    close(fd);
    buf[len] = '\0';
    uint64_t caught = 0, ignored = 0;
    if (StatusMask(buf, "\nSigIgn:\t", &ignored) && StatusMask(buf, "\nSigCgt:\t", &caught)) {
      return caught | ignored;
    }
  }
  // No /proc: ask the kernel signal by signal.
  uint64_t bits = 0;
  for (int sig = 1; sig <= 64; sig++) {
    struct {
      void* handler;
      unsigned long flags;
      void* restorer;
      uint64_t mask;
    } old = {};
    if (RawSyscall(SYS_rt_sigaction, sig, 0, reinterpret_cast<long>(&old), 8) < 0) continue;
    if (old.handler != reinterpret_cast<void*>(SIG_DFL)) bits |= uint64_t{1} << (sig - 1);
  }
  return bits;
}

// Kills and reaps a keeper init that is our unreaped child (so `pid` cannot
// have been reused). Blocking, but short: on these paths nothing else can
// be in its namespace yet, so its exit does not wait for other processes.
void KillAndReapKeeper(int pid) {
  kill(pid, SIGKILL);
  siginfo_t info;
  while (waitid(P_PID, pid, &info, WEXITED) < 0 && errno == EINTR) {
  }
}

// An exec spec whose program can be the child itself: one that neither
// joins nor creates a pid or time namespace, the two that take effect only
// for the caller's children (pid_for_children, time_for_children).
bool ExecsDirectly(const ChildSpec& spec) {
  constexpr int kForChildren = CLONE_NEWPID | CLONE_NEWTIME;
  if (!spec.has_exec || (spec.unshare_flags & kForChildren) != 0) return false;
  if (spec.target.has && (spec.target.ns_flags & kForChildren) != 0) return false;
  for (const ChildJoin& j : spec.join) {
    if (j.nstype & kForChildren) return false;
  }
  return true;
}

bool WantsKeeper(const ChildSpec& spec) {
  if ((spec.unshare_flags & CLONE_NEWPID) == 0) return false;
  for (const std::string& name : spec.hold_ns) {
    if (name == "pid_for_children") return true;
  }
  return false;
}

// pipe2(O_CLOEXEC|O_NONBLOCK) with both fds >= 3, so that the program's
// dup3 onto 0, 1, 2 can never overwrite a source it has yet to copy (it
// clears O_NONBLOCK on its end then). 0 or -errno.
int StdioPipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) return -errno;
  for (int i = 0; i < 2; i++) {
    if (fds[i] >= 3) continue;
    int high = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
    int err = errno;
    close(fds[i]);
    fds[i] = high;
    if (high < 0) {
      if (fds[1 - i] >= 0) close(fds[1 - i]);
      return -err;
    }
  }
  return 0;
}

// The clone3 child's entry (RawClone3OnStack); ChildMain never returns.
void ChildEntry(const void* arg) { ChildMain(const_cast<void*>(arg)); }

std::string NsNames(int flags) {
  std::string out;
  for (const NsTypeInfo& t : kNsTypes) {
    if ((flags & t.clone_flag) == 0) continue;
    if (!out.empty()) out += "+";
    out += t.name;
  }
  return out.empty() ? "any" : out;
}

}  // namespace

// A keeper init that outlived its run: watched through its pidfd (readable
// once it has exited, which for a pid-namespace init is after every other
// process of the namespace is gone), reaped with waitid(P_PIDFD).
struct Keeper {
  ChildRunner* runner;
  int pid;
  int pidfd;
  uv_poll_t poll;
};

class ChildRun {
 public:
  ChildRun(ChildRunner* runner, ChildSpec&& spec, std::unique_ptr<ChildCompletion> done)
      : runner_(runner), spec_(std::move(spec)), done_(std::move(done)) {}

  uint64_t Start(ChildFailure* failure);
  void Kill(const ChildFailure& why);
  void Finish(bool notify);
  uint64_t id() const { return id_; }

 private:
  bool AllocateRegion(ChildFailure* failure);
  void FreeRegion();
  void PrepareProgram(uint64_t reset_signals);
  bool Clone(ChildFailure* failure);
  bool Watch(ChildFailure* failure);
  bool MakeStdio(ChildFailure* failure);
  void PrepareExec();
  void PrepareTarget();
  int64_t ProgramTimeoutMs() const;
  ProgramSetup Setup(ProgramOutput* output);
  void DropCgroup();
  const ProgramOutput* Output(ProgramOutput* out);
  void HandOverStdio(ChildResult* result);
  void CloseStdio();
  void ReleaseUnstarted();
  void OnStatusReadable();
  bool ExecedDirectly() const;
  bool ExitedAlready() const;
  void StopWatching();
  void HandOverProgram(bool exited);
  bool WriteIdMaps();
  bool OpenHeldNamespaces();
  void SendGo();
  std::string StepName(int step, int index) const;
  ChildFailure ChildReportedFailure() const;
  void CloseHandle(uv_handle_t* h);

  static void OnPidfd(uv_poll_t* h, int status, int events);
  static void OnStatus(uv_poll_t* h, int status, int events);
  static void OnTimeout(uv_timer_t* h);
  static void OnClosed(uv_handle_t* h);

  ChildRunner* runner_;
  uint64_t id_ = 0;
  ProgramCgroup* cgroup_ = nullptr;  // exec.cgroup_parent: until a ProgramWatch takes it
  ChildSpec spec_;
  std::unique_ptr<ChildCompletion> done_;
  ChildProgram program_ = {};
  char* stack_ = nullptr;
  char* shared_ = nullptr;
  size_t shared_len_ = 0;
  ChildControl* ctl_ = nullptr;
  int pid_ = -1;
  int pidfd_ = -1;
  int status_fd_ = -1;        // parent's end
  int child_status_fd_ = -1;  // child's end, closed in the parent after clone
  int keeper_read_ = -1;      // keepalive pipe: the init's end, closed after clone
  int keeper_write_ = -1;     // the daemon's end, handed to the caller on success
  int proc_fd_ = -1;          // target: the daemon's /proc (O_PATH), closed after clone
  int stdio_parent_[3] = {-1, -1, -1};  // exec: the daemon's pipe ends, handed over on success
  int stdio_child_[3] = {-1, -1, -1};   // exec: the program's ends, closed after clone
  std::vector<const char*> candidate_ptrs_;  // exec: arrays over spec_.exec's strings
  std::vector<char*> argv_ptrs_;
  std::vector<char*> env_ptrs_;
  uint64_t started_ms_ = 0;  // uv_now at Start, for the program's lifetime timeout
  uint32_t timer_ms_ = 0;    // the run's timer: timeout_ms, or exec.timeoutMs when shorter
  uv_poll_t pid_poll_;
  uv_poll_t status_poll_;
  uv_timer_t timer_;
  bool pid_poll_open_ = false;
  bool status_poll_open_ = false;
  bool timer_open_ = false;
  int open_handles_ = 0;  // handles not yet through OnClosed
  bool finished_ = false;
  bool direct_ = false;  // exec spec: the child execs the program itself
  std::vector<int> held_fds_;
  ChildFailure parent_failure_;  // timeout, cancel or a failed parent action

  friend class ChildRunner;
};

// How many finished regions the runner keeps for reuse, of each kind.
constexpr size_t kSpareRegions = 16;

bool ChildRun::AllocateRegion(ChildFailure* failure) {
  // Regions come back only after their child was reaped (FreeRegion), when
  // neither it, its keeper nor its program can still run on them.
  std::vector<char*>& stacks = runner_->spare_stacks_;
  if (!stacks.empty()) {
    stack_ = stacks.back();
    stacks.pop_back();
  } else {
    void* stack = mmap(nullptr, kStackRegionSize, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
      *failure = {errno, "mmap", "stack", "", ""};
      return false;
    }
    stack_ = static_cast<char*>(stack);
    // Guard pages below both stacks: an overflow faults instead of corrupting.
    mprotect(stack_, kPage, PROT_NONE);
    mprotect(stack_ + kPage + kInitStackSize, kPage, PROT_NONE);
  }
  shared_len_ = kPage + RoundUp(spec_.read_max);
  std::vector<char*>& pages = runner_->spare_pages_;
  if (shared_len_ == kPage && !pages.empty()) {
    shared_ = pages.back();
    pages.pop_back();
    std::memset(shared_, 0, kPage);  // as fresh from mmap
  } else {
    void* shared = mmap(nullptr, shared_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
      *failure = {errno, "mmap", "shared", "", ""};
      return false;
    }
    shared_ = static_cast<char*>(shared);
  }
  ctl_ = reinterpret_cast<ChildControl*>(shared_);
  return true;
}

void ChildRun::FreeRegion() {
  if (stack_ != nullptr) {
    if (runner_->spare_stacks_.size() < kSpareRegions) runner_->spare_stacks_.push_back(stack_);
    else munmap(stack_, kStackRegionSize);
  }
  if (shared_ != nullptr) {
    if (shared_len_ == kPage && runner_->spare_pages_.size() < kSpareRegions) runner_->spare_pages_.push_back(shared_);
    else munmap(shared_, shared_len_);
  }
  stack_ = shared_ = nullptr;
}

void ChildRun::PrepareProgram(uint64_t reset_signals) {
  ChildProgram& p = program_;
  p.ctl = ctl_;
  p.parent_pid = getpid();
  p.status_fd = child_status_fd_;
  p.parent_status_fd = status_fd_;
  p.reset_signals = reset_signals;
  p.join = spec_.join.data();
  p.join_count = spec_.join.size();
  p.unshare_flags = spec_.unshare_flags;
  p.wait_idmap = spec_.has_idmap;
  PrepareTarget();
  if (spec_.has_timens) {
    p.timens = spec_.timens.data();
    p.timens_len = spec_.timens.size();
  }
  if (spec_.has_hostname) {
    p.hostname = spec_.hostname.data();
    p.hostname_len = spec_.hostname.size();
  }
  p.loopback_up = spec_.loopback_up;
  if (spec_.has_write) {
    p.write_path = spec_.write_path.c_str();
    p.write_data = spec_.write_data.data();
    p.write_len = spec_.write_data.size();
  }
  if (spec_.has_read) {
    p.read_path = spec_.read_path.c_str();
    p.read_buf = reinterpret_cast<char*>(ctl_) + kPage;
    p.read_max = spec_.read_max;
  }
  p.move_fd = spec_.move_fd;
  p.move_target = spec_.move_fd >= 0 ? spec_.move_target.c_str() : nullptr;
  p.move_create = spec_.move_create;
  p.debug_sleep_ms = spec_.debug_sleep_ms;
  p.pid_init = keeper_read_ >= 0;
  p.keeper_read_fd = keeper_read_;
  p.keeper_write_fd = keeper_write_;
  p.pause_fd = runner_->pause_.fd;
  p.init_stack_top = stack_ + kPage + kInitStackSize;
  p.wait_hold = !spec_.hold_ns.empty();
  p.exec_direct = direct_;
  if (spec_.has_exec) PrepareExec();
}

// The highest capability number this kernel knows (cap_last_cap).
static int CapLast() {
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

void ChildRun::PrepareTarget() {
  ChildTarget& t = program_.target;
  const TargetSpec& s = spec_.target;
  t.pidfd = -1;
  t.proc_fd = -1;
  if (!s.has) return;
  t.pidfd = s.pidfd;
  t.ns_flags = s.ns_flags;
  t.cgroup_fds = s.cgroup_fds.data();
  t.cgroup_count = s.cgroup_fds.size();
  t.uid = s.uid;
  t.gid = s.gid;
  t.groups = s.groups.data();
  t.group_count = s.groups.size();
  t.cap_bnd = s.cap_bnd;
  t.cap_inh = s.cap_inh;
  t.cap_prm = s.cap_prm;
  t.cap_eff = s.cap_eff;
  t.cap_amb = s.cap_amb;
  t.cap_last = CapLast();
  t.no_new_privs = s.no_new_privs;
  t.proc_fd = proc_fd_;
}

void ChildRun::PrepareExec() {
  ChildProgram& p = program_;
  const ExecSpec& e = spec_.exec;
  for (const std::string& c : e.candidates) candidate_ptrs_.push_back(c.c_str());
  // execve's prototype is not const-correct; the kernel only reads them.
  for (const std::string& a : e.argv) argv_ptrs_.push_back(const_cast<char*>(a.c_str()));
  for (const std::string& v : e.env) env_ptrs_.push_back(const_cast<char*>(v.c_str()));
  argv_ptrs_.push_back(nullptr);
  env_ptrs_.push_back(nullptr);
  p.candidates = candidate_ptrs_.data();
  p.candidate_count = candidate_ptrs_.size();
  p.argv = argv_ptrs_.data();
  p.envp = env_ptrs_.data();
  p.cwd = e.has_cwd ? e.cwd.c_str() : nullptr;
  p.set_gid = e.has_gid;
  p.gid = e.gid;
  p.set_uid = e.has_uid;
  p.uid = e.uid;
  p.mount_proc = e.mount_proc;
  for (int i = 0; i < 3; i++) p.stdio[i] = stdio_child_[i];
  // The keeper init's stack: an exec spec never has a keeper.
  p.program_stack_top = stack_ + kPage + kInitStackSize;
}

// Three pipes; see "Exec specs" above.
bool ChildRun::MakeStdio(ChildFailure* failure) {
  static const char* const kNames[3] = {"stdin", "stdout", "stderr"};
  for (int i = 0; i < 3; i++) {
    int fds[2];
    int r = StdioPipe(fds);
    if (r < 0) {
      *failure = {-r, "pipe2", kNames[i], "", ""};
      return false;
    }
    stdio_parent_[i] = i == 0 ? fds[1] : fds[0];
    stdio_child_[i] = i == 0 ? fds[0] : fds[1];
  }
  return true;
}

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
  for (int i = 0; i < 2; i++) {
    out->fds[i] = stdio_parent_[i + 1];
    stdio_parent_[i + 1] = -1;
  }
  out->cap = spec_.exec.output_cap;
  return out;
}

// The program runs under a ProgramWatch: the daemon's pipe ends still here
// (all three, or stdin alone when the watch reads the output) go to the caller.
void ChildRun::HandOverStdio(ChildResult* result) {
  for (int i = 0; i < 3; i++) {
    result->stdio[i] = stdio_parent_[i];
    stdio_parent_[i] = -1;
  }
}

void ChildRun::CloseStdio() {
  for (int i = 0; i < 3; i++) {
    if (stdio_parent_[i] >= 0) close(stdio_parent_[i]);
    if (stdio_child_[i] >= 0) close(stdio_child_[i]);
    stdio_parent_[i] = stdio_child_[i] = -1;
  }
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
    args.stack = reinterpret_cast<uintptr_t>(stack_ + kPage + kInitStackSize + kPage);
    args.stack_size = kStackSize;
    args.cgroup = static_cast<uint64_t>(cgroup_->dir_fd());
    long r = RawClone3OnStack(&args, sizeof args, ChildEntry, &program_);
    pid = r < 0 ? -1 : static_cast<int>(r);
    err = r < 0 ? static_cast<int>(-r) : 0;
  } else {
    pid = clone(ChildMain, stack_ + kStackRegionSize, flags, &program_, &pidfd);
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
  for (int& fd : stdio_child_) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
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
  if (!AllocateRegion(failure) || (spec_.has_exec && !MakeStdio(failure))) {
    ReleaseUnstarted();
    return 0;
  }
  if (spec_.has_exec && !spec_.exec.cgroup_parent.empty()) {
    std::string name = "program-" + std::to_string(getpid()) + "-" + std::to_string(id_);
    cgroup_ = ProgramCgroup::Create(spec_.exec.cgroup_parent, name, failure);
    if (cgroup_ == nullptr) {
      ReleaseUnstarted();
      return 0;
    }
  }
  direct_ = ExecsDirectly(spec_);
  if (spec_.has_idmap || !spec_.hold_ns.empty()) {
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
      *failure = {pause.err, "open", pause.path, kChildStepNames[kStepExecPause],
                  std::string(std::strerror(pause.err)) +
                      "; lxnsd-pause, the keeper of a held pid namespace, is built with the "
                      "addon (node-gyp rebuild --directory native)"};
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
  if (spec_.target.has) {
    proc_fd_ = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (proc_fd_ < 0) {
      *failure = {errno, "open", "/proc", "", ""};
      ReleaseUnstarted();
      return -1;
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
    Finish(false);
    *failure = saved;
    return 0;
  }
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
  CloseStdio();
  FreeRegion();
  delete this;
}

void ChildRun::SendGo() {
  char go = kGoByte;
  send(status_fd_, &go, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

bool ChildRun::WriteIdMaps() {
  std::string proc = "/proc/" + std::to_string(pid_) + "/";
  struct File {
    const char* name;
    const std::string* data;
    ParentStep step;
  };
  std::string setgroups = spec_.setgroups_deny ? "deny" : "allow";
  // setgroups must precede gid_map (the kernel freezes it afterwards).
  const File files[] = {
      {"setgroups", spec_.gid_map.empty() ? nullptr : &setgroups, kParentStepWriteSetgroups},
      {"uid_map", spec_.uid_map.empty() ? nullptr : &spec_.uid_map, kParentStepWriteUidMap},
      {"gid_map", spec_.gid_map.empty() ? nullptr : &spec_.gid_map, kParentStepWriteGidMap}};
  for (const File& f : files) {
    if (f.data == nullptr) continue;
    std::string path = proc + f.name;
    const char* failed = "";
    int r = WriteWholeFile(path.c_str(), f.data->data(), f.data->size(), &failed);
    if (r < 0) {
      Kill({-r, std::string(failed) + "(" + f.name + ")", "", kParentStepNames[f.step], ""});
      return false;
    }
  }
  return true;
}

bool ChildRun::OpenHeldNamespaces() {
  std::string dir = "/proc/" + std::to_string(pid_) + "/ns/";
  for (const std::string& name : spec_.hold_ns) {
    std::string path = dir + name;
    int fd = OpenReadOnly(path.c_str());
    if (fd < 0) {
      Kill({-fd, "open", path, kParentStepNames[kParentStepOpenNs], ""});
      return false;
    }
    held_fds_.push_back(fd);
  }
  return true;
}

void ChildRun::OnStatusReadable() {
  for (;;) {
    ChildMessage msg;
    ssize_t n = read(status_fd_, &msg, sizeof msg);  // O_NONBLOCK; a socket or a pipe
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {  // EOF or error: the child exec'd or is gone
      uv_poll_stop(&status_poll_);
      // A direct exec's program runs from here on; otherwise the pidfd
      // ends the run.
      if (direct_ && !finished_ && done_ && ExecedDirectly()) HandOverProgram(ExitedAlready());
      return;
    }
    if (parent_failure_.err != 0 || static_cast<size_t>(n) != sizeof msg) continue;
    bool ok = false;
    if (msg.kind == kMsgReadyForIdmap) ok = WriteIdMaps();
    if (msg.kind == kMsgReadyForHold) ok = OpenHeldNamespaces();
    if (ok) SendGo();
  }
}

void ChildRun::Kill(const ChildFailure& why) {
  if (finished_) return;
  if (parent_failure_.err == 0) parent_failure_ = why;
  PidfdSignal(pidfd_, SIGKILL);
}

std::string ChildRun::StepName(int step, int index) const {
  if (step == kStepSetns && index >= 0 && static_cast<size_t>(index) < spec_.join.size()) {
    return "setns " + NsNames(spec_.join[index].nstype);
  }
  if (step >= 0 && step < kStepCount) return kChildStepNames[step];
  return "step " + std::to_string(step);
}

ChildFailure ChildRun::ChildReportedFailure() const {
  ChildFailure f;
  f.err = ctl_->err;
  int sys = ctl_->syscall;
  f.syscall = (sys > 0 && sys < kSysCount) ? kChildSyscallNames[sys] : "unknown";
  f.step = StepName(ctl_->step, ctl_->step_index);
  switch (ctl_->step) {
    case kStepSetns:
      f.target = NsNames(spec_.join[ctl_->step_index].nstype);
      break;
    case kStepTimens:
      f.target = "/proc/self/timens_offsets";
      break;
    case kStepTargetCgroup: {
      size_t i = static_cast<size_t>(ctl_->step_index);
      f.target = "cgroup.procs #" + std::to_string(i);
      break;
    }
    case kStepTargetSetns:
      f.target = NsNames(spec_.target.ns_flags);
      break;
    case kStepWriteFile:
      f.target = spec_.write_path;
      break;
    case kStepReadFile:
      f.target = spec_.read_path;
      break;
    case kStepCreateTarget:
    case kStepMoveMount:
      f.target = spec_.move_target;
      break;
    case kStepLoopback:
      f.target = "lo";
      break;
    case kStepExecPause:
      f.target = runner_->pause_.path;
      break;
    case kStepMountProc:
      f.target = "/proc";
      break;
    case kStepChdir:
      f.target = spec_.exec.cwd;
      break;
    case kStepExecve:
      for (const std::string& c : spec_.exec.candidates) f.target += (f.target.empty() ? "" : ":") + c;
      break;
    default:
      break;
  }
  return f;
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
  return parent_failure_.err == 0 && ctl_->err == 0 && ctl_->step == kStepExecve;
}

// Has the child exited (still unreaped)? waitid(WNOHANG|WNOWAIT).
bool ChildRun::ExitedAlready() const {
  siginfo_t info;
  return WaitPidfd(pidfd_, WNOHANG | WNOWAIT, &info);
}

// Stops and closes the handles before any fd is closed, so epoll never
// sees a reused fd; closes the status socket or pipe.
void ChildRun::StopWatching() {
  finished_ = true;
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
  StopWatching();
  ChildResult result;
  result.pid = pid_;
  int pidfd = pidfd_;
  pidfd_ = -1;
  ProgramOutput output;
  std::string cgroup_path = cgroup_ != nullptr ? cgroup_->path() : "";
  ProgramWatch* program = ProgramWatch::Adopt(runner_->loop_, &runner_->programs_, pid_, pidfd,
                                               Setup(&output), exited, &result.failure);
  if (program != nullptr) {
    result.program_pid = pid_;
    result.cgroup_path = cgroup_path;
    HandOverStdio(&result);
  }
  CloseStdio();
  FreeRegion();
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

void ChildRun::Finish(bool notify) {
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
  StopWatching();
  close(pidfd_);
  pidfd_ = -1;

  // The kernel stored these pids before clone returned (0 = none).
  int init_pid = ctl_->init_pid;
  int program_pid = ctl_->program_pid;
  ProgramWatch* program = nullptr;
  ChildResult result;
  result.pid = pid_;
  if (parent_failure_.err != 0) {
    result.failure = parent_failure_;
  } else if (info.si_code == CLD_EXITED && info.si_status == 0 && !direct_) {
    // Hand the keeper init over only to a completion that will receive it
    // (at teardown it is killed below like on any failure).
    if (init_pid > 0 && notify && done_) {
      if (runner_->AdoptKeeper(init_pid, &result.failure)) {
        result.keeper_pid = init_pid;
        result.keeper_fd = keeper_write_;
        keeper_write_ = -1;
      }
      init_pid = 0;  // adopted, or already killed and reaped by AdoptKeeper
    }
    if (spec_.has_exec && program_pid <= 0) {
      result.failure = {ECHILD, "clone", "", kChildStepNames[kStepStartProgram],
                        "the child exited 0 without starting the program"};
    } else if (spec_.has_exec && notify && done_) {
      // The program has exec'd: from here on it is watched on its own.
      ProgramOutput output;
      std::string cgroup_path = cgroup_ != nullptr ? cgroup_->path() : "";
      program = ProgramWatch::Start(runner_->loop_, &runner_->programs_, program_pid,
                                    Setup(&output), &result.failure);
      if (program != nullptr) {
        result.program_pid = program_pid;
        result.cgroup_path = cgroup_path;
        HandOverStdio(&result);
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
    result.failure = ChildReportedFailure();
  } else {
    bool signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
    result.failure = {ECHILD, "waitid", "", "", ""};
    result.failure.step = std::string(signaled ? "child died: signal " : "child exited: status ") +
                          std::to_string(info.si_status);
    result.failure.detail = result.failure.step + " in step " +
                            StepName(ctl_->step, ctl_->step_index);
  }
  // Any path but success: the keeper init (created but not adopted) dies,
  // and neither the held fds nor the write end survive.
  if (init_pid > 0) KillAndReapKeeper(init_pid);
  // Likewise a program not handed to a ProgramWatch (it may have exec'd
  // when the child was killed right after: its group goes too).
  if (cgroup_ != nullptr) cgroup_->Kill();
  if (program_pid > 0) KillGroupAndReap(program_pid);
  DropCgroup();
  CloseStdio();
  if (keeper_write_ >= 0) close(keeper_write_);
  keeper_write_ = -1;
  for (int fd : held_fds_) close(fd);
  held_fds_.clear();
  FreeRegion();
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
  static_cast<ChildRun*>(h->data)->Finish(true);
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
  std::string step = run->StepName(run->ctl_->step, run->ctl_->step_index);
  run->Kill({ETIMEDOUT, "runChild", "", step,
             "timed out after " + std::to_string(run->timer_ms_) + " ms in step " + step});
}

void ChildRun::OnClosed(uv_handle_t* h) {
  ChildRun* run = static_cast<ChildRun*>(h->data);
  if (--run->open_handles_ == 0) delete run;
}

ChildRunner::~ChildRunner() {
  KillAll();
  if (pause_.fd >= 0) close(pause_.fd);
  for (char* stack : spare_stacks_) munmap(stack, kStackRegionSize);
  for (char* page : spare_pages_) munmap(page, kPage);
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
    std::string step = run->StepName(run->ctl_->step, run->ctl_->step_index);
    run->Kill({ECANCELED, "runChild", "", step, "cancelled in step " + step});
    return true;
  }
  return false;
}

void ChildRunner::KillAll() {
  while (!runs_.empty()) {
    ChildRun* run = runs_.front();
    run->done_.reset();
    PidfdSignal(run->pidfd_, SIGKILL);
    run->Finish(false);  // blocking waitid: the child is dying
  }
  while (!keepers_.empty()) {
    Keeper* k = keepers_.front();
    keepers_.pop_front();
    PidfdSignal(k->pidfd, SIGKILL);
    siginfo_t info;
    while (waitid(static_cast<idtype_t>(P_PIDFD), k->pidfd, &info, WEXITED) < 0 && errno == EINTR) {
    }
    ReleaseKeeper(k);
  }
  while (!programs_.empty()) programs_.front()->KillAndReap();  // removes itself
  while (!cgroups_.empty()) cgroups_.front()->RemoveNow();     // likewise
}

bool ChildRunner::AdoptKeeper(int pid, ChildFailure* failure) {
  // Safe against pid reuse: `pid` is our child and nobody else reaps it.
  int pidfd = PidfdOpen(pid);
  if (pidfd < 0) {
    KillAndReapKeeper(pid);
    *failure = {-pidfd, "pidfd_open", "keeper " + std::to_string(pid), "", ""};
    return false;
  }
  Keeper* k = new Keeper{this, pid, pidfd, {}};
  int r = uv_poll_init(loop_, &k->poll, pidfd);
  if (r != 0) {
    KillAndReapKeeper(pid);
    close(pidfd);
    delete k;
    *failure = {-r, "uv_poll_init", "keeper", "", ""};
    return false;
  }
  k->poll.data = k;
  r = uv_poll_start(&k->poll, UV_READABLE, OnKeeperExit);
  if (r != 0) {
    KillAndReapKeeper(pid);
    ReleaseKeeper(k);
    *failure = {-r, "uv_poll_start", "keeper", "", ""};
    return false;
  }
  keepers_.push_back(k);
  return true;
}

void ChildRunner::OnKeeperExit(uv_poll_t* h, int status, int) {
  Keeper* k = static_cast<Keeper*>(h->data);
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  int r;
  do r = waitid(static_cast<idtype_t>(P_PIDFD), k->pidfd, &info, WEXITED | WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0 && info.si_pid == 0) {  // not exited: a spurious wake-up
    if (status >= 0) return;
    // The poll itself failed: do not leave an unwatched init behind.
    PidfdSignal(k->pidfd, SIGKILL);
    while (waitid(static_cast<idtype_t>(P_PIDFD), k->pidfd, &info, WEXITED) < 0 && errno == EINTR) {
    }
  }
  k->runner->keepers_.remove(k);
  k->runner->ReleaseKeeper(k);
}

// Stops and closes the poll before closing the pidfd; freed once closed.
void ChildRunner::ReleaseKeeper(Keeper* k) {
  uv_close(reinterpret_cast<uv_handle_t*>(&k->poll),
           [](uv_handle_t* h) { delete static_cast<Keeper*>(h->data); });
  close(k->pidfd);
  k->pidfd = -1;
}
