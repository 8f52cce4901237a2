// NativeError building: a ChildFailure (errno, syscall, target, step,
// detail) -> the NativeError class handed over by init() (native/lib/native-error.ts).
#include <cstring>
#include <string>

#include "js/addon.h"
#include "js/errno_names.h"

namespace {

// "syscall(target): CODE (text)", e.g. "setns(user): EPERM (Operation not permitted)".
std::string FailureMessage(const ChildFailure& f) {
  std::string head = f.target.empty() ? f.syscall : f.syscall + "(" + f.target + ")";
  std::string text = f.detail.empty() ? std::strerror(f.err) : f.detail;
  return head + ": " + ErrnoName(f.err) + " (" + text + ")";
}

}  // namespace

Napi::Value LxnsAddon::MakeError(Napi::Env env, const ChildFailure& f) {
  std::string msg = FailureMessage(f);
  Napi::Value step = f.step.empty() ? env.Undefined() : Napi::String::New(env, f.step);
  if (!error_class_.IsEmpty()) {
    return error_class_.New({Napi::String::New(env, msg), Napi::String::New(env, ErrnoName(f.err)),
                             Napi::Number::New(env, f.err), Napi::String::New(env, f.syscall), step});
  }
  Napi::Object e = Napi::Error::New(env, msg).Value();
  e.Set("code", ErrnoName(f.err));
  e.Set("errno", f.err);
  e.Set("syscall", f.syscall);
  if (!f.step.empty()) e.Set("step", step);
  return e;
}

void LxnsAddon::Throw(Napi::Env env, int neg_errno, const char* syscall, const std::string& target) {
  throw Napi::Error(env, MakeError(env, {-neg_errno, syscall, target, "", ""}));
}
