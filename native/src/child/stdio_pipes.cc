#include "child/stdio_pipes.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "child/child_result.h"
#include "child/program_watch.h"

namespace {

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

}  // namespace

bool StdioPipes::Make(ChildFailure* failure) {
  static const char* const kNames[3] = {"stdin", "stdout", "stderr"};
  for (int i = 0; i < 3; i++) {
    int fds[2];
    int r = StdioPipe(fds);
    if (r < 0) {
      *failure = {-r, "pipe2", kNames[i], "", ""};
      return false;
    }
    parent_[i] = i == 0 ? fds[1] : fds[0];
    child_[i] = i == 0 ? fds[0] : fds[1];
  }
  return true;
}

void StdioPipes::CloseChildEnds() {
  for (int& fd : child_) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
}

void StdioPipes::TakeOutput(ProgramOutput* out) {
  for (int i = 0; i < 2; i++) {
    out->fds[i] = parent_[i + 1];
    parent_[i + 1] = -1;
  }
}

void StdioPipes::HandOver(int out[3]) {
  for (int i = 0; i < 3; i++) {
    out[i] = parent_[i];
    parent_[i] = -1;
  }
}

void StdioPipes::Close() {
  for (int i = 0; i < 3; i++) {
    if (parent_[i] >= 0) close(parent_[i]);
    if (child_[i] >= 0) close(child_[i]);
    parent_[i] = child_[i] = -1;
  }
}
