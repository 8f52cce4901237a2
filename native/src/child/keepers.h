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
// KeeperSet holds the adopted inits; ChildRunner::running() counts them and
// KillAll kills and reaps them. No N-API here.
#ifndef LXNSD_NATIVE_KEEPERS_H_
#define LXNSD_NATIVE_KEEPERS_H_

#include <uv.h>

#include <cstddef>
#include <list>

struct ChildFailure;

// Kills and reaps a keeper init that is our unreaped child (so `pid` cannot
// have been reused). Blocking, but short: on these paths nothing else can
// be in its namespace yet, so its exit does not wait for other processes.
void KillAndReapKeeper(int pid);

// The keeper inits that outlived their runs, each watched through its
// pidfd until it exits (after every other process of its namespace), then
// reaped. Their keepalive write ends belong to the callers.
class KeeperSet {
 public:
  explicit KeeperSet(uv_loop_t* loop) : loop_(loop) {}
  KeeperSet(const KeeperSet&) = delete;
  KeeperSet& operator=(const KeeperSet&) = delete;

  // Watches the keeper init `pid` (our unreaped child) until it exits and
  // reaps it. On failure it has killed and reaped it and set *failure.
  bool Adopt(int pid, ChildFailure* failure);
  // Kills and reaps every keeper init synchronously (teardown).
  void KillAll();
  size_t size() const { return keepers_.size(); }

 private:
  struct Keeper;
  static void OnKeeperExit(uv_poll_t* h, int status, int events);
  void Release(Keeper* k);

  uv_loop_t* loop_;
  std::list<Keeper*> keepers_;
};

#endif  // LXNSD_NATIVE_KEEPERS_H_
