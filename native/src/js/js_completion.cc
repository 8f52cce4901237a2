#include "js/js_completion.h"

#include "js/addon.h"

void JsCompletion::Complete(ChildResult&& result) {
  Napi::HandleScope scope(env_);
  Napi::Value err = env_.Null();
  Napi::Value value = env_.Undefined();
  try {
    if (result.failure.err != 0) {
      err = addon_->MakeError(env_, result.failure);
    } else {
      Napi::Object out = Napi::Object::New(env_);
      out.Set("childPid", result.pid);
      Napi::Array fds = Napi::Array::New(env_, result.fds.size());
      for (uint32_t i = 0; i < result.fds.size(); i++) fds.Set(i, result.fds[i]);
      out.Set("fds", fds);
      if (result.keeper_fd >= 0) {
        Napi::Object keeper = Napi::Object::New(env_);
        keeper.Set("pid", result.keeper_pid);
        keeper.Set("fd", result.keeper_fd);
        out.Set("keeper", keeper);
      }
      if (result.has_data) {
        out.Set("data", Napi::Buffer<char>::Copy(env_, result.data.data(), result.data.size()));
      }
      if (result.program_pid > 0) {
        out.Set("pid", result.program_pid);
        out.Set("stdin", result.stdio[0]);
        out.Set("stdout", result.stdio[1]);
        out.Set("stderr", result.stdio[2]);
        if (result.terminal_fd >= 0) out.Set("terminal", result.terminal_fd);
        if (!result.cgroup_path.empty()) out.Set("cgroup", result.cgroup_path);
      }
      value = out;
    }
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env_, e.Value());
    return;
  }
  Call(callback_, {err, value});
}

void JsCompletion::ProgramExited(const ProgramExit& exit) {
  if (exited_.IsEmpty()) return;
  Napi::HandleScope scope(env_);
  Napi::Object status = Napi::Object::New(env_);
  status.Set(exit.signaled ? "signal" : "code", exit.value);
  if (exit.collected) {
    status.Set("stdout", Napi::Buffer<char>::Copy(env_, exit.output[0].data(), exit.output[0].size()));
    status.Set("stderr", Napi::Buffer<char>::Copy(env_, exit.output[1].data(), exit.output[1].size()));
    status.Set("truncated", exit.truncated);
  }
  if (exit.timed_out) status.Set("timedOut", true);
  Call(exited_, {status});
}

void JsCompletion::Call(Napi::FunctionReference& fn, const std::initializer_list<napi_value>& args) {
  try {
    fn.MakeCallback(env_.Global(), args, context_);
  } catch (const Napi::Error& e) {
    // The callback threw: report it as an uncaught exception, as Node would.
    napi_fatal_exception(env_, e.Value());
  }
}
