// Threads for operations that may block for good (a lookup on a hung
// mount): each operation gets a thread to itself, never a queue behind
// another. A thread that finished its operation waits a moment for the
// next one (kIdle) before it ends, so a burst of short operations does not
// pay a thread creation each; while every thread is busy (or stuck), a new
// one is made.
#ifndef LXNSD_NATIVE_OP_THREADS_H_
#define LXNSD_NATIVE_OP_THREADS_H_

#include <functional>

// Runs task on an idle thread of the cache or on a new one; throws
// std::system_error when no thread can be made.
void RunOnOwnThread(std::function<void()> task);

#endif  // LXNSD_NATIVE_OP_THREADS_H_
