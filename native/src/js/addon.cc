// The addon's entry: the method table exported to native/lib/raw.ts, the
// namespace and step-name tables, and the environment's lifecycle.
#include "js/addon.h"

#include "child/child_steps.h"
#include "child/pause_program.h"
#include "js/js_args.h"
#include "ns_table.h"

LxnsAddon::LxnsAddon(Napi::Env env, Napi::Object exports) : runner_(Loop(env), OpenPauseProgram()) {
  DefineAddon(exports, {
      InstanceMethod("init", &LxnsAddon::InitJs),
      InstanceMethod("openPath", &LxnsAddon::OpenPath),
      InstanceMethod("openNsPath", &LxnsAddon::OpenNsPathJs),
      InstanceMethod("pidfdOpen", &LxnsAddon::PidfdOpenJs),
      InstanceMethod("pidfdAlive", &LxnsAddon::PidfdAliveJs),
      InstanceMethod("pidfdSendSignal", &LxnsAddon::PidfdSendSignalJs),
      InstanceMethod("openBeneath", &LxnsAddon::OpenBeneathJs),
      InstanceMethod("openTreeFd", &LxnsAddon::OpenTreeFdJs),
      InstanceMethod("close", &LxnsAddon::Close),
      InstanceMethod("nsStat", &LxnsAddon::NsStatJs),
      InstanceMethod("nsGetUserns", &LxnsAddon::NsGetUserns),
      InstanceMethod("nsGetParent", &LxnsAddon::NsGetParent),
      InstanceMethod("nsGetOwnerUid", &LxnsAddon::NsGetOwnerUid),
      InstanceMethod("peerCredentials", &LxnsAddon::PeerCredentials),
      InstanceMethod("peerGroups", &LxnsAddon::PeerGroups),
      InstanceMethod("bindMountPath", &LxnsAddon::BindMountPathJs),
      InstanceMethod("makeSharedMountPoint", &LxnsAddon::MakeSharedMountPointJs),
      InstanceMethod("unmountDetach", &LxnsAddon::UnmountDetachJs),
      InstanceMethod("openTree", &LxnsAddon::OpenTreeJs),
      InstanceMethod("fileOp", &LxnsAddon::FileOpJs),
      InstanceMethod("runChild", &LxnsAddon::RunChild),
      InstanceMethod("cancelChild", &LxnsAddon::CancelChild),
      InstanceMethod("spawnProgram", &LxnsAddon::SpawnProgram),
      InstanceMethod("killProgram", &LxnsAddon::KillProgram),
      InstanceMethod("killAll", &LxnsAddon::KillAllJs),
      InstanceMethod("runningChildren", &LxnsAddon::RunningChildren),
      InstanceMethod("scanNamespaces", &LxnsAddon::ScanNamespacesJs),
      InstanceMethod("processCommand", &LxnsAddon::ProcessCommandJs),
      InstanceMethod("stuckCommandReads", &LxnsAddon::StuckCommandReadsJs),
      InstanceMethod("watchFd", &LxnsAddon::WatchFdJs),
      InstanceMethod("setWatch", &LxnsAddon::SetWatchJs),
      InstanceMethod("closeWatch", &LxnsAddon::CloseWatchJs),
      InstanceMethod("fdRead", &LxnsAddon::FdReadJs),
      InstanceMethod("fdWrite", &LxnsAddon::FdWriteJs),
      InstanceMethod("terminalEofChar", &LxnsAddon::TerminalEofCharJs),
      InstanceMethod("terminalResize", &LxnsAddon::TerminalResizeJs),
      InstanceMethod("terminalSignal", &LxnsAddon::TerminalSignalJs),
      InstanceValue("NS_TYPES", NsTypesArray(env), napi_enumerable),
      InstanceValue("STEP_NAMES", StepNamesArray(env), napi_enumerable),
  });
  napi_add_env_cleanup_hook(env, &LxnsAddon::Cleanup, this);
  env_ = env;
}

LxnsAddon::~LxnsAddon() {
  if (!cleaned_up_) napi_remove_env_cleanup_hook(env_, &LxnsAddon::Cleanup, this);
}

uv_loop_t* LxnsAddon::Loop(Napi::Env env) {
  uv_loop_t* loop = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_get_uv_event_loop(env, &loop), nullptr);
  return loop;
}

Napi::Array LxnsAddon::NsTypesArray(Napi::Env env) {
  Napi::Array a = Napi::Array::New(env);
  uint32_t i = 0;
  for (const NsTypeInfo& t : kNsTypes) {
    Napi::Object row = Napi::Object::New(env);
    row.Set("name", t.name);
    row.Set("flag", t.clone_flag);
    a.Set(i++, row);
  }
  return a;
}

Napi::Array LxnsAddon::StepNamesArray(Napi::Env env) {
  Napi::Array a = Napi::Array::New(env);
  uint32_t i = 0;
  for (const char* name : kChildStepNames) a.Set(i++, name);
  for (const char* name : kParentStepNames) a.Set(i++, name);
  return a;
}

void LxnsAddon::Cleanup(void* arg) {
  LxnsAddon* self = static_cast<LxnsAddon*>(arg);
  self->cleaned_up_ = true;
  self->runner_.KillAll();
  self->CloseAllWatches();
}

Napi::Value LxnsAddon::InitJs(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) ThrowType(info.Env(), "init(errorClass)");
  error_class_ = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

NODE_API_ADDON(LxnsAddon)
