// The three stdio pipes of an exec spec's program (see "Exec specs" in
// child_protocol.h): the daemon's ends (stdin's write end, stdout's and
// stderr's read ends, O_NONBLOCK) and the program's (closed in the daemon
// after clone). No N-API here.
#ifndef LXNSD_NATIVE_STDIO_PIPES_H_
#define LXNSD_NATIVE_STDIO_PIPES_H_

struct ChildFailure;
struct ProgramOutput;

class StdioPipes {
 public:
  StdioPipes() = default;
  ~StdioPipes() { Close(); }
  StdioPipes(const StdioPipes&) = delete;
  StdioPipes& operator=(const StdioPipes&) = delete;

  // Three pipe2(O_CLOEXEC|O_NONBLOCK) pairs, all fds >= 3. False with
  // *failure set (syscall "pipe2", target the stream's name).
  bool Make(ChildFailure* failure);
  // The program's ends (-1 when not made), for ChildSteps::stdio.
  const int* child_ends() const { return child_; }
  // After clone: the program has its copies.
  void CloseChildEnds();
  // The daemon's stdout and stderr read ends go to a ProgramWatch that
  // reads them itself (collectOutput): they are out->fds from here on.
  void TakeOutput(ProgramOutput* out);
  // The daemon's ends still here (all three, or stdin alone after
  // TakeOutput) go to the caller: out[i] = the end, or -1.
  void HandOver(int out[3]);
  // Closes whatever is still here, on both sides.
  void Close();

 private:
  int parent_[3] = {-1, -1, -1};
  int child_[3] = {-1, -1, -1};
};

#endif  // LXNSD_NATIVE_STDIO_PIPES_H_
