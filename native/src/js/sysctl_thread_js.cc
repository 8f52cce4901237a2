// sysctlOnThread({ fd, nstype, path, data?, max, debugSleepMs? }): a sysctl
// of a net, uts or ipc namespace written (data) and read back by a new
// thread of its own that joins the namespace and ends with the call
// (sysctl_thread.h), settling a Promise with the bytes read back.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <system_error>

#include "js/addon.h"
#include "js/js_args.h"
#include "op_threads.h"
#include "sysctl_thread.h"

namespace {

// One call: its request, its outcome and the promise it settles on the loop
// thread through a thread-safe function of its own. The thread that runs it
// exits afterwards; should it never return, it keeps only itself and this job.
class SysctlJob {
 public:
  SysctlJob(Napi::Env env, LxnsAddon* addon, SysctlRequest req)
      : deferred_(Napi::Promise::Deferred::New(env)), addon_(addon), req_(std::move(req)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  // Starts the job on a new thread; when none can be made the promise is rejected (EAGAIN).
  void Start(Napi::Env env) {
    tsfn_ = Tsfn::New(env, "lxnsd:sysctl", 0, 1, this);
    try {
      RunOnThreadOfItsOwn([this] {
        ok_ = RunSysctlOnThisThread(req_, &value_, &failure_);
        Tsfn tsfn = tsfn_;
        if (tsfn.BlockingCall(this) != napi_ok) return;  // the environment is gone: nobody to settle
        tsfn.Release();
      });
    } catch (const std::system_error& e) {
      close(req_.ns_fd);
      tsfn_.Release();
      ok_ = false;
      failure_ = {e.code().value() ? e.code().value() : EAGAIN, "pthread_create", "", "", ""};
      Settle(env);
      delete this;
    }
  }

  static void CallJs(Napi::Env env, Napi::Function, SysctlJob*, SysctlJob* job) {
    if (env != nullptr) job->Settle(env);
    delete job;
  }
  using Tsfn = Napi::TypedThreadSafeFunction<SysctlJob, SysctlJob, &SysctlJob::CallJs>;

 private:
  void Settle(Napi::Env env) {
    Napi::HandleScope scope(env);
    if (ok_) {
      deferred_.Resolve(Napi::Buffer<char>::Copy(env, value_.data(), value_.size()));
    } else {
      deferred_.Reject(addon_->MakeError(env, failure_));
    }
  }

  Napi::Promise::Deferred deferred_;
  LxnsAddon* addon_;
  SysctlRequest req_;
  Tsfn tsfn_;
  bool ok_ = false;
  std::string value_;
  ChildFailure failure_;
};

}  // namespace

Napi::Value LxnsAddon::SysctlOnThreadJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) ThrowType(env, "sysctlOnThread({ fd, nstype, path, data?, max, debugSleepMs? })");
  Napi::Object o = info[0].As<Napi::Object>();
  SysctlRequest req;
  int fd = GetFd(env, o, "fd");
  req.nstype = static_cast<int>(GetUint32(env, o, "nstype"));
  if (!ThreadMayJoin(req.nstype)) ThrowType(env, "sysctlOnThread: nstype must be CLONE_NEWNET, CLONE_NEWUTS or CLONE_NEWIPC");
  req.path = GetString(env, o, "path", true);
  if (IsSet(o, "data")) {
    req.write = true;
    req.data = GetString(env, o, "data", false);
  }
  req.max = GetUint32(env, o, "max");
  if (IsSet(o, "debugSleepMs")) req.debug_sleep_ms = GetUint32(env, o, "debugSleepMs");
  // The thread's own copy of the fd, closed by it once joined: the caller may close
  // its fd as soon as the call ends, and its number never names another file under a late join.
  req.ns_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (req.ns_fd < 0) Throw(env, -errno, "fcntl(F_DUPFD_CLOEXEC)", "");
  SysctlJob* job = new SysctlJob(env, this, std::move(req));
  Napi::Promise promise = job->Promise();
  job->Start(env);  // deletes itself once settled
  return promise;
}
