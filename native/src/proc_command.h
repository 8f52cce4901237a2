// lsns's COMMAND of a process, read so that no process can hold the reader.
//
// Reading /proc/PID/cmdline takes the target's mmap lock, and any process
// can keep that lock taken for good (a fault on a hung FUSE mount holding
// it for reading, a writer queued behind: "ps hangs"). So the cmdline is
// read on a thread of its own (op_threads.h) and waited for at most
// kCommandBound; past that the caller gets comm (which needs no lock), the
// process (pid and start time) is remembered as hung, so later reads go
// straight to comm without another thread, and the reading thread is left
// to finish whenever the lock comes free (it then forgets the process).
// At most kMaxStuckCommandReads threads are left so at once; while that
// many are, every read gives comm.
#ifndef LXNSD_NATIVE_PROC_COMMAND_H_
#define LXNSD_NATIVE_PROC_COMMAND_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

// How long a cmdline read is waited for.
constexpr std::chrono::milliseconds kCommandBound(200);
// How many threads may be stuck in cmdline reads at once.
constexpr size_t kMaxStuckCommandReads = 8;

// lsns COMMAND: up to 8 KiB of /proc/PID/cmdline, NULs as spaces, the last
// byte dropped; comm (its newline dropped) for kernel threads, for a
// process whose cmdline cannot be read within kCommandBound, and while
// kMaxStuckCommandReads reads are stuck. "" when the process is gone.
// Blocks for at most kCommandBound (or 2 s should no thread begin the
// read: a thread is free to, so only a starved machine waits that long);
// any thread, no JS.
std::string ProcessCommand(int pid);

// ProcessCommand of each pid, in order; the cmdlines read one after the
// other on one thread (a new one only after a stuck read). Blocks for at
// most kCommandBound per process newly found stuck (as above).
std::vector<std::string> ProcessCommands(const std::vector<int>& pids);

// How many cmdline reads are stuck now (threads left waiting for a lock).
size_t StuckCommandReads();

#endif  // LXNSD_NATIVE_PROC_COMMAND_H_
