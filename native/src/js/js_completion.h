// Delivers a per-request child's outcome to JS, on the loop thread.
#ifndef LXNSD_NATIVE_JS_COMPLETION_H_
#define LXNSD_NATIVE_JS_COMPLETION_H_

#include <napi.h>

#include <initializer_list>

#include "child/child_result.h"
#include "child/program_watch.h"

class LxnsAddon;

// Delivers one child's outcome to its JS callback, and for an exec spec
// the program's exit status to a second one.
class JsCompletion : public ChildCompletion {
 public:
  JsCompletion(LxnsAddon* addon, Napi::Function callback, const char* name)
      : addon_(addon),
        env_(callback.Env()),
        callback_(Napi::Persistent(callback)),
        context_(callback.Env(), name) {}
  JsCompletion(LxnsAddon* addon, Napi::Function callback, Napi::Function exited)
      : JsCompletion(addon, callback, "lxnsd:spawnProgram") {
    exited_ = Napi::Persistent(exited);
  }
  void Complete(ChildResult&& result) override;
  void ProgramExited(const ProgramExit& exit) override;

 private:
  void Call(Napi::FunctionReference& fn, const std::initializer_list<napi_value>& args);

  LxnsAddon* addon_;
  Napi::Env env_;
  Napi::FunctionReference callback_;
  Napi::FunctionReference exited_;
  Napi::AsyncContext context_;
};

#endif  // LXNSD_NATIVE_JS_COMPLETION_H_
