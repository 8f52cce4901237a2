#include "child/keepers.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "child/child_result.h"
#include "compat.h"
#include "ns_fd.h"

// A keeper init that outlived its run: watched through its pidfd (readable
// once it has exited, which for a pid-namespace init is after every other
// process of the namespace is gone), reaped with waitid(P_PIDFD).
struct KeeperSet::Keeper {
  KeeperSet* set;
  int pid;
  int pidfd;
  uv_poll_t poll;
};

void KillAndReapKeeper(int pid) {
  kill(pid, SIGKILL);
  siginfo_t info;
  while (waitid(P_PID, pid, &info, WEXITED) < 0 && errno == EINTR) {
  }
}

bool KeeperSet::Adopt(int pid, ChildFailure* failure) {
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
    Release(k);
    *failure = {-r, "uv_poll_start", "keeper", "", ""};
    return false;
  }
  keepers_.push_back(k);
  return true;
}

void KeeperSet::KillAll() {
  while (!keepers_.empty()) {
    Keeper* k = keepers_.front();
    keepers_.pop_front();
    PidfdSignal(k->pidfd, SIGKILL);
    siginfo_t info;
    while (waitid(static_cast<idtype_t>(P_PIDFD), k->pidfd, &info, WEXITED) < 0 && errno == EINTR) {
    }
    Release(k);
  }
}

void KeeperSet::OnKeeperExit(uv_poll_t* h, int status, int) {
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
  k->set->keepers_.remove(k);
  k->set->Release(k);
}

// Stops and closes the poll before closing the pidfd; freed once closed.
void KeeperSet::Release(Keeper* k) {
  uv_close(reinterpret_cast<uv_handle_t*>(&k->poll),
           [](uv_handle_t* h) { delete static_cast<Keeper*>(h->data); });
  close(k->pidfd);
  k->pidfd = -1;
}
