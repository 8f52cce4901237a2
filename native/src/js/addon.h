// The addon object: one per Node.js environment (main thread or worker).
// Its method table is in addon.cc; the methods live by concern in
// fd_calls_js.cc (fds, namespaces, sockets, mounts) and child_calls_js.cc
// (children, programs, the scan); NativeError building in
// native_error_js.cc. All N-API code is under js/.
#ifndef LXNSD_NATIVE_ADDON_H_
#define LXNSD_NATIVE_ADDON_H_

#include <napi.h>
#include <uv.h>

#include <map>
#include <string>

#include "child/child_result.h"
#include "child/child_runner.h"

struct FdWatch;

class LxnsAddon : public Napi::Addon<LxnsAddon> {
 public:
  LxnsAddon(Napi::Env env, Napi::Object exports);
  ~LxnsAddon();

  // A NativeError for f (a plain Error with the same fields before init).
  Napi::Value MakeError(Napi::Env env, const ChildFailure& f);

 private:
  static uv_loop_t* Loop(Napi::Env env);
  static Napi::Array NsTypesArray(Napi::Env env);
  // Every step name a failure can carry: the child's, then the daemon's own.
  static Napi::Array StepNamesArray(Napi::Env env);
  // Environment teardown: no child may outlive the daemon.
  static void Cleanup(void* arg);
  // Throws MakeError of {-neg_errno, syscall, target}.
  [[noreturn]] void Throw(Napi::Env env, int neg_errno, const char* syscall, const std::string& target);

  Napi::Value InitJs(const Napi::CallbackInfo& info);
  // fd_calls_js.cc
  Napi::Value OpenPath(const Napi::CallbackInfo& info);
  Napi::Value OpenNsPathJs(const Napi::CallbackInfo& info);
  Napi::Value PidfdSendSignalJs(const Napi::CallbackInfo& info);
  Napi::Value OpenBeneathJs(const Napi::CallbackInfo& info);
  Napi::Value OpenTreeFdJs(const Napi::CallbackInfo& info);
  Napi::Value PidfdOpenJs(const Napi::CallbackInfo& info);
  Napi::Value PidfdAliveJs(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value NsStatJs(const Napi::CallbackInfo& info);
  Napi::Value NsGetUserns(const Napi::CallbackInfo& info);
  Napi::Value NsGetParent(const Napi::CallbackInfo& info);
  Napi::Value NsGetOwnerUid(const Napi::CallbackInfo& info);
  Napi::Value PeerCredentials(const Napi::CallbackInfo& info);
  Napi::Value PeerGroups(const Napi::CallbackInfo& info);
  Napi::Value BindMountPathJs(const Napi::CallbackInfo& info);
  Napi::Value MakeSharedMountPointJs(const Napi::CallbackInfo& info);
  Napi::Value UnmountDetachJs(const Napi::CallbackInfo& info);
  Napi::Value OpenTreeJs(const Napi::CallbackInfo& info);
  // file_ops_js.cc
  Napi::Value FileOpJs(const Napi::CallbackInfo& info);
  // child_calls_js.cc
  Napi::Value RunChild(const Napi::CallbackInfo& info);
  Napi::Value SpawnProgram(const Napi::CallbackInfo& info);
  Napi::Value KillAllJs(const Napi::CallbackInfo& info);
  Napi::Value KillProgram(const Napi::CallbackInfo& info);
  Napi::Value CancelChild(const Napi::CallbackInfo& info);
  Napi::Value ScanNamespacesJs(const Napi::CallbackInfo& info);
  Napi::Value RunningChildren(const Napi::CallbackInfo& info);
  // ns_scan_js.cc
  Napi::Value ProcessCommandJs(const Napi::CallbackInfo& info);
  Napi::Value StuckCommandReadsJs(const Napi::CallbackInfo& info);
  // terminal_js.cc
  Napi::Value WatchFdJs(const Napi::CallbackInfo& info);
  Napi::Value SetWatchJs(const Napi::CallbackInfo& info);
  Napi::Value CloseWatchJs(const Napi::CallbackInfo& info);
  Napi::Value FdReadJs(const Napi::CallbackInfo& info);
  Napi::Value FdWriteJs(const Napi::CallbackInfo& info);
  Napi::Value TerminalEofCharJs(const Napi::CallbackInfo& info);
  Napi::Value TerminalResizeJs(const Napi::CallbackInfo& info);
  Napi::Value TerminalSignalJs(const Napi::CallbackInfo& info);
  void CloseWatch(FdWatch* w);
  void CloseAllWatches();

  Napi::Env env_ = Napi::Env(nullptr);
  Napi::FunctionReference error_class_;
  ChildRunner runner_;
  bool cleaned_up_ = false;
  std::map<uint64_t, FdWatch*> fd_watches_;  // terminal_js.cc
  uint64_t next_watch_ = 1;
};

#endif  // LXNSD_NATIVE_ADDON_H_
