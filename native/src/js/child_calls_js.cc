// The addon's calls on per-request children and their programs
// (child/child_runner.h), and the namespace scan.
#include <memory>

#include "js/addon.h"
#include "js/child_spec_js.h"
#include "js/js_args.h"
#include "js/js_completion.h"
#include "js/ns_scan_js.h"

Napi::Value LxnsAddon::RunChild(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ChildSpec spec = ParseSpec(env, info.Length() > 0 ? info[0] : env.Undefined());
  if (info.Length() < 2 || !info[1].IsFunction()) ThrowType(env, "done must be a function");
  ChildFailure failure;
  auto done = std::make_unique<JsCompletion>(this, info[1].As<Napi::Function>(), "lxnsd:runChild");
  uint64_t id = runner_.Start(std::move(spec), std::move(done), &failure);
  if (id == 0) throw Napi::Error(env, MakeError(env, failure));
  return Napi::Number::New(env, static_cast<double>(id));
}

// spawnProgram(spec, started(err, {pid, stdin, stdout, stderr, cgroup?}),
// exited({code}|{signal}, timedOut?)): returns the run's id (cancelChild
// until started, killProgram after).
Napi::Value LxnsAddon::SpawnProgram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ChildSpec spec = ParseSpec(env, info.Length() > 0 ? info[0] : env.Undefined());
  if (!spec.has_exec) ThrowType(env, "spec.exec is required");
  if (info.Length() < 3 || !info[1].IsFunction() || !info[2].IsFunction()) {
    ThrowType(env, "started and exited must be functions");
  }
  ChildFailure failure;
  auto done = std::make_unique<JsCompletion>(this, info[1].As<Napi::Function>(), info[2].As<Napi::Function>());
  uint64_t id = runner_.Start(std::move(spec), std::move(done), &failure);
  if (id == 0) throw Napi::Error(env, MakeError(env, failure));
  return Napi::Number::New(env, static_cast<double>(id));
}

// killAll(): what the cleanup hook does, for a daemon about to exit.
Napi::Value LxnsAddon::KillAllJs(const Napi::CallbackInfo& info) {
  runner_.KillAll();
  return info.Env().Undefined();
}

// killProgram(id, signal): false when no such program is running.
Napi::Value LxnsAddon::KillProgram(const Napi::CallbackInfo& info) {
  uint64_t id = IdArg(info, 0);
  int sig = FdArg(info, 1);
  if (sig > 64) ThrowType(info.Env(), "signal must be in [0, 64]");
  return Napi::Boolean::New(info.Env(), runner_.SignalProgram(id, sig));
}

// cancelChild(id): false when run `id` has no running child.
Napi::Value LxnsAddon::CancelChild(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), runner_.Cancel(IdArg(info, 0)));
}

// scanNamespaces(): Promise<RawScanRow[]>, the /proc walk on the libuv pool (ns_scan.cc).
Napi::Value LxnsAddon::ScanNamespacesJs(const Napi::CallbackInfo& info) {
  return QueueNamespaceScan(info.Env(), [this](Napi::Env env, int err, const char* syscall) {
    return MakeError(env, {err, syscall, "/proc", "", ""});
  });
}

Napi::Value LxnsAddon::RunningChildren(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(runner_.running()));
}
