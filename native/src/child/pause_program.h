// lxnsd-pause, the program a keeper init execs (native/src/pause_main.c),
// located and opened once per addon instance.
#ifndef LXNSD_NATIVE_PAUSE_PROGRAM_H_
#define LXNSD_NATIVE_PAUSE_PROGRAM_H_

#include <string>

struct PauseProgram {
  int fd = -1;       // O_PATH|O_CLOEXEC, >= 3 (fd 0 is the init's pipe); -1 = unusable
  int err = 0;       // positive errno of the failed open or check when fd < 0
  std::string path;  // where it was looked for, for error messages
};

// Opens lxnsd-pause next to the addon's own file (node-gyp builds both into
// build/Release/): O_PATH, so the keeper init execs it with execveat and no
// path lookup, whatever mount namespace it is in. Checks that it is a
// regular file the daemon may execute. Never throws; a missing program is
// reported by runChild for the specs that need a keeper.
PauseProgram OpenPauseProgram();

#endif  // LXNSD_NATIVE_PAUSE_PROGRAM_H_
