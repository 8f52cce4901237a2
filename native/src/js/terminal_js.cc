// The addon's calls on a program's terminal master (ExecSpec.tty): a poll
// watcher that tells JS when the fd is readable or writable (the daemon
// reads and writes it itself, non-blocking: libuv's own tty handle would
// block on writes to a pty master), reads and writes that answer -errno
// instead of throwing (EAGAIN is the common case), and the terminal's
// ioctls: its EOF character, its size, a signal to its foreground group.
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "js/addon.h"
#include "js/js_args.h"

// One watched fd: owned by the watch from watchFd until closeWatch (or
// the environment's teardown), which closes it.
struct FdWatch {
  uv_poll_t poll;
  int fd = -1;
  uint64_t id = 0;
  LxnsAddon* addon = nullptr;
  Napi::FunctionReference callback;
  std::unique_ptr<Napi::AsyncContext> context;
};

namespace {

Napi::Buffer<uint8_t> BufferArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsBuffer()) ThrowType(info.Env(), "a Buffer is required");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

void OnPoll(uv_poll_t* h, int status, int events) {
  FdWatch* w = static_cast<FdWatch*>(h->data);
  Napi::Env env = w->callback.Env();
  Napi::HandleScope scope(env);
  // An error of the poll itself: JS reads (or writes) and meets it there.
  int bits = status < 0 ? (UV_READABLE | UV_WRITABLE) : events;
  try {
    w->callback.MakeCallback(env.Global(), {Napi::Number::New(env, bits)}, *w->context);
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
  }
}

void OnClosed(uv_handle_t* h) { delete static_cast<FdWatch*>(h->data); }

}  // namespace

void LxnsAddon::CloseWatch(FdWatch* w) {
  fd_watches_.erase(w->id);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnClosed);  // stops it: the fd may go now
  close(w->fd);
  w->fd = -1;
}

void LxnsAddon::CloseAllWatches() {
  while (!fd_watches_.empty()) CloseWatch(fd_watches_.begin()->second);
}

// watchFd(fd, onEvents(bits)): the fd (O_NONBLOCK) is the watch's from here
// on; bits 1 = readable, 2 = writable. Nothing is polled until setWatch.
Napi::Value LxnsAddon::WatchFdJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  if (info.Length() < 2 || !info[1].IsFunction()) ThrowType(env, "onEvents must be a function");
  auto w = std::make_unique<FdWatch>();
  int r = uv_poll_init(Loop(env), &w->poll, fd);
  if (r != 0) Throw(env, r, "uv_poll_init", "");
  w->poll.data = w.get();
  w->fd = fd;
  w->id = next_watch_++;
  w->addon = this;
  w->callback = Napi::Persistent(info[1].As<Napi::Function>());
  w->context = std::make_unique<Napi::AsyncContext>(env, "lxnsd:terminal");
  uint64_t id = w->id;
  fd_watches_[id] = w.release();
  return Napi::Number::New(env, static_cast<double>(id));
}

// setWatch(id, bits): poll for these events (0 = none).
Napi::Value LxnsAddon::SetWatchJs(const Napi::CallbackInfo& info) {
  auto it = fd_watches_.find(IdArg(info, 0));
  if (it == fd_watches_.end()) ThrowType(info.Env(), "no such watch");
  int bits = FdArg(info, 1) & (UV_READABLE | UV_WRITABLE);
  int r = bits == 0 ? uv_poll_stop(&it->second->poll) : uv_poll_start(&it->second->poll, bits, OnPoll);
  if (r != 0) Throw(info.Env(), r, "uv_poll_start", "");
  return info.Env().Undefined();
}

// closeWatch(id): stops it and closes its fd; false when already closed.
Napi::Value LxnsAddon::CloseWatchJs(const Napi::CallbackInfo& info) {
  auto it = fd_watches_.find(IdArg(info, 0));
  if (it == fd_watches_.end()) return Napi::Boolean::New(info.Env(), false);
  CloseWatch(it->second);
  return Napi::Boolean::New(info.Env(), true);
}

// fdRead(fd, buffer): bytes read, 0 at EOF, or -errno (-EAGAIN: nothing yet).
Napi::Value LxnsAddon::FdReadJs(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  Napi::Buffer<uint8_t> buf = BufferArg(info, 1);
  ssize_t n;
  do n = read(fd, buf.Data(), buf.Length());
  while (n < 0 && errno == EINTR);
  return Napi::Number::New(info.Env(), n < 0 ? -errno : static_cast<double>(n));
}

// fdWrite(fd, buffer): bytes written, or -errno (-EAGAIN: full for now).
Napi::Value LxnsAddon::FdWriteJs(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  Napi::Buffer<uint8_t> buf = BufferArg(info, 1);
  ssize_t n;
  do n = write(fd, buf.Data(), buf.Length());
  while (n < 0 && errno == EINTR);
  return Napi::Number::New(info.Env(), n < 0 ? -errno : static_cast<double>(n));
}

// terminalEofChar(fd): c_cc[VEOF] of the terminal (a master reports its slave's).
Napi::Value LxnsAddon::TerminalEofCharJs(const Napi::CallbackInfo& info) {
  struct termios t;
  if (tcgetattr(FdArg(info, 0), &t) < 0) Throw(info.Env(), -errno, "tcgetattr", "");
  return Napi::Number::New(info.Env(), t.c_cc[VEOF]);
}

// terminalResize(fd, rows, cols): TIOCSWINSZ; the kernel sends SIGWINCH to
// the foreground process group when the size changed.
Napi::Value LxnsAddon::TerminalResizeJs(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  int rows = FdArg(info, 1);
  int cols = FdArg(info, 2);
  if (rows > 0xffff || cols > 0xffff) ThrowType(info.Env(), "rows and cols must be at most 65535");
  struct winsize ws = {};
  ws.ws_row = static_cast<unsigned short>(rows);
  ws.ws_col = static_cast<unsigned short>(cols);
  if (ioctl(fd, TIOCSWINSZ, &ws) < 0) Throw(info.Env(), -errno, "ioctl(TIOCSWINSZ)", "");
  return info.Env().Undefined();
}

// terminalSignal(fd, sig): sends sig to the terminal's foreground process
// group; false when it has none. SIGINT, SIGQUIT and SIGTSTP go through
// TIOCSIG (the kernel picks the group); others to the group TIOCGPGRP
// names: a group of the program's session, whose number the kernel does not
// hand out again while the group lives (and then only after pid_max more).
Napi::Value LxnsAddon::TerminalSignalJs(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  int sig = FdArg(info, 1);
  if (sig < 1 || sig > 64) ThrowType(info.Env(), "signal must be in [1, 64]");
  pid_t pgrp = 0;
  if (ioctl(fd, TIOCGPGRP, &pgrp) < 0 || pgrp <= 0) return Napi::Boolean::New(info.Env(), false);
  int r = (sig == SIGINT || sig == SIGQUIT || sig == SIGTSTP) ? ioctl(fd, TIOCSIG, sig) : kill(-pgrp, sig);
  return Napi::Boolean::New(info.Env(), r == 0);
}
