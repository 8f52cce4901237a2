// The only N-API glue: converts arguments, calls ns_fd / child_runner, and
// turns failures into the NativeError class handed over by init().
#include <napi.h>

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "child/child_runner.h"
#include "js/errno_names.h"
#include "mount_ops.h"
#include "ns_fd.h"
#include "js/ns_scan_js.h"
#include "ns_table.h"
#include "child/pause_program.h"

namespace {

constexpr size_t kMaxReadBytes = 16 * 1024 * 1024;

// "syscall(target): CODE (text)", e.g. "setns(user): EPERM (Operation not permitted)".
std::string FailureMessage(const ChildFailure& f) {
  std::string head = f.target.empty() ? f.syscall : f.syscall + "(" + f.target + ")";
  std::string text = f.detail.empty() ? std::strerror(f.err) : f.detail;
  return head + ": " + ErrnoName(f.err) + " (" + text + ")";
}

[[noreturn]] void ThrowType(Napi::Env env, const std::string& what) {
  throw Napi::TypeError::New(env, what);
}

bool IsSet(const Napi::Object& o, const char* key) {
  return o.Has(key) && !o.Get(key).IsUndefined() && !o.Get(key).IsNull();
}

std::string GetString(Napi::Env env, const Napi::Object& o, const char* key, bool path) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) ThrowType(env, std::string(key) + " must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (path && (s.empty() || s.find('\0') != std::string::npos)) {
    ThrowType(env, std::string(key) + " must be a non-empty path without NUL");
  }
  return s;
}

uint32_t GetUint32(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) ThrowType(env, std::string(key) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d < 0 || d > 4294967295.0 || d != static_cast<double>(static_cast<uint32_t>(d))) {
    ThrowType(env, std::string(key) + " must be a uint32");
  }
  return static_cast<uint32_t>(d);
}

int FdArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber()) ThrowType(info.Env(), "fd must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d < 0 || d > 2147483647.0 || d != static_cast<int>(d)) ThrowType(info.Env(), "fd must be an int >= 0");
  return static_cast<int>(d);
}

void ParseJoin(Napi::Env env, const Napi::Object& spec, ChildSpec* out) {
  if (!IsSet(spec, "join")) return;
  if (!spec.Get("join").IsArray()) ThrowType(env, "join must be an array");
  Napi::Array join = spec.Get("join").As<Napi::Array>();
  for (uint32_t i = 0; i < join.Length(); i++) {
    if (!join.Get(i).IsObject()) ThrowType(env, "join entries must be objects");
    Napi::Object j = join.Get(i).As<Napi::Object>();
    uint32_t fd = GetUint32(env, j, "fd");
    uint32_t nstype = GetUint32(env, j, "nstype");
    if (nstype == 0 || (nstype & ~static_cast<uint32_t>(kAllNsFlags)) != 0) {
      ThrowType(env, "join nstype must be CLONE_NEW* flags");
    }
    out->join.push_back({static_cast<int>(fd), static_cast<int>(nstype)});
  }
}

uint64_t GetUint64(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsBigInt()) ThrowType(env, std::string(key) + " must be a bigint");
  bool lossless = false;
  uint64_t value = v.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) ThrowType(env, std::string(key) + " must be a uint64");
  return value;
}

int GetFd(Napi::Env env, const Napi::Object& o, const char* key) {
  uint32_t fd = GetUint32(env, o, key);
  if (fd > 2147483647u) ThrowType(env, std::string(key) + " must be an fd");
  return static_cast<int>(fd);
}

// spec.target (see RawChildTarget in native/lib/raw.ts).
void ParseTarget(Napi::Env env, const Napi::Object& spec, ChildSpec* out) {
  if (!IsSet(spec, "target")) return;
  if (!spec.Get("target").IsObject()) ThrowType(env, "target must be an object");
  Napi::Object t = spec.Get("target").As<Napi::Object>();
  TargetSpec& x = out->target;
  x.has = true;
  x.pidfd = GetFd(env, t, "pidfd");
  x.ns_flags = static_cast<int>(GetUint32(env, t, "nsFlags"));
  if ((x.ns_flags & ~kAllNsFlags) != 0) ThrowType(env, "target.nsFlags must be CLONE_NEW* flags");
  if (!t.Get("cgroupProcsFds").IsArray()) ThrowType(env, "target.cgroupProcsFds must be an array");
  Napi::Array fds = t.Get("cgroupProcsFds").As<Napi::Array>();
  for (uint32_t i = 0; i < fds.Length(); i++) {
    Napi::Value v = fds.Get(i);
    if (!v.IsNumber()) ThrowType(env, "target.cgroupProcsFds must hold fds");
    double d = v.As<Napi::Number>().DoubleValue();
    if (d < 0 || d > 2147483647.0 || d != static_cast<int>(d)) ThrowType(env, "target.cgroupProcsFds must hold fds");
    x.cgroup_fds.push_back(static_cast<int>(d));
  }
  x.uid = GetUint32(env, t, "uid");
  x.gid = GetUint32(env, t, "gid");
  if (!t.Get("groups").IsArray()) ThrowType(env, "target.groups must be an array");
  Napi::Array groups = t.Get("groups").As<Napi::Array>();
  if (groups.Length() > 65536) ThrowType(env, "target.groups: at most 65536");
  for (uint32_t i = 0; i < groups.Length(); i++) {
    Napi::Object holder = Napi::Object::New(env);
    holder.Set("g", groups.Get(i));
    x.groups.push_back(GetUint32(env, holder, "g"));
  }
  if (!t.Get("caps").IsObject()) ThrowType(env, "target.caps must be an object");
  Napi::Object caps = t.Get("caps").As<Napi::Object>();
  x.cap_bnd = GetUint64(env, caps, "bounding");
  x.cap_inh = GetUint64(env, caps, "inheritable");
  x.cap_prm = GetUint64(env, caps, "permitted");
  x.cap_eff = GetUint64(env, caps, "effective");
  x.cap_amb = GetUint64(env, caps, "ambient");
  x.no_new_privs = IsSet(t, "noNewPrivs") && t.Get("noNewPrivs").ToBoolean().Value();
}

void ParseIdMap(Napi::Env env, const Napi::Object& spec, ChildSpec* out) {
  if (!IsSet(spec, "idMap")) return;
  Napi::Object m = spec.Get("idMap").As<Napi::Object>();
  out->has_idmap = true;
  out->uid_map = GetString(env, m, "uidMap", false);
  out->gid_map = GetString(env, m, "gidMap", false);
  std::string sg = GetString(env, m, "setgroups", false);
  if (sg != "allow" && sg != "deny") ThrowType(env, "setgroups must be \"allow\" or \"deny\"");
  out->setgroups_deny = sg == "deny";
}

void ParseFiles(Napi::Env env, const Napi::Object& spec, ChildSpec* out) {
  if (IsSet(spec, "writeFile")) {
    Napi::Object w = spec.Get("writeFile").As<Napi::Object>();
    out->has_write = true;
    out->write_path = GetString(env, w, "path", true);
    out->write_data = GetString(env, w, "data", false);
  }
  if (IsSet(spec, "readFile")) {
    Napi::Object r = spec.Get("readFile").As<Napi::Object>();
    out->has_read = true;
    out->read_path = GetString(env, r, "path", true);
    out->read_max = GetUint32(env, r, "maxBytes");
    if (out->read_max > kMaxReadBytes) ThrowType(env, "readFile.maxBytes is at most 16 MiB");
  }
}

void ParseHold(Napi::Env env, const Napi::Object& spec, ChildSpec* out) {
  if (!IsSet(spec, "holdNs")) return;
  if (!spec.Get("holdNs").IsArray()) ThrowType(env, "holdNs must be an array");
  Napi::Array hold = spec.Get("holdNs").As<Napi::Array>();
  for (uint32_t i = 0; i < hold.Length(); i++) {
    Napi::Value v = hold.Get(i);
    std::string name = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
    if (!IsHoldableNsName(name.c_str())) ThrowType(env, "holdNs: unknown namespace name");
    out->hold_ns.push_back(name);
  }
}

std::vector<std::string> GetStrings(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsArray()) ThrowType(env, std::string(key) + " must be an array of strings");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value item = a.Get(i);
    if (!item.IsString()) ThrowType(env, std::string(key) + " must be an array of strings");
    out.push_back(item.As<Napi::String>().Utf8Value());
    if (out.back().find('\0') != std::string::npos) ThrowType(env, std::string(key) + ": NUL in a string");
  }
  return out;
}

// spec.exec (see RawExecSpec in native/lib/raw.ts); the TS wrapper has
// checked it already, this keeps the C++ side safe on its own.
void ParseExec(Napi::Env env, const Napi::Object& spec, ChildSpec* out) {
  if (!IsSet(spec, "exec")) return;
  if (!spec.Get("exec").IsObject()) ThrowType(env, "exec must be an object");
  if (!out->hold_ns.empty() || out->has_read || out->has_write) {
    ThrowType(env, "exec cannot be combined with holdNs, readFile or writeFile");
  }
  Napi::Object e = spec.Get("exec").As<Napi::Object>();
  ExecSpec& x = out->exec;
  out->has_exec = true;
  x.candidates = GetStrings(env, e, "candidates");
  x.argv = GetStrings(env, e, "argv");
  x.env = GetStrings(env, e, "env");
  if (x.candidates.empty() || x.argv.empty()) ThrowType(env, "exec.candidates and exec.argv must not be empty");
  for (const std::string& c : x.candidates) {
    if (c.empty() || c[0] != '/') ThrowType(env, "exec.candidates must be absolute paths");
  }
  if (IsSet(e, "cwd")) {
    x.has_cwd = true;
    x.cwd = GetString(env, e, "cwd", true);
  }
  if (IsSet(e, "uid")) {
    x.has_uid = true;
    x.uid = GetUint32(env, e, "uid");
  }
  if (IsSet(e, "gid")) {
    x.has_gid = true;
    x.gid = GetUint32(env, e, "gid");
  }
  x.mount_proc = IsSet(e, "mountProc") && e.Get("mountProc").ToBoolean().Value();
  // Never over the /proc of a mount namespace that is not the program's own.
  if (x.mount_proc && (out->unshare_flags & CLONE_NEWNS) == 0) {
    ThrowType(env, "exec.mountProc needs CLONE_NEWNS in unshareFlags");
  }
  if (IsSet(e, "collectOutput")) {
    x.collect_output = true;
    x.output_cap = GetUint32(env, e, "collectOutput");
  }
  if (IsSet(e, "timeoutMs")) {
    x.lifetime_timeout = true;
    x.lifetime_ms = GetUint32(env, e, "timeoutMs");
  }
  if (IsSet(e, "cgroupParent")) {
    x.cgroup_parent = GetString(env, e, "cgroupParent", true);
    if (x.cgroup_parent[0] != '/') ThrowType(env, "exec.cgroupParent must be an absolute path");
  }
}

ChildSpec ParseSpec(Napi::Env env, const Napi::Value& value) {
  if (!value.IsObject()) ThrowType(env, "spec must be an object");
  Napi::Object spec = value.As<Napi::Object>();
  ChildSpec out;
  ParseTarget(env, spec, &out);
  ParseJoin(env, spec, &out);
  if (IsSet(spec, "unshareFlags")) {
    out.unshare_flags = static_cast<int>(GetUint32(env, spec, "unshareFlags"));
    if ((out.unshare_flags & ~kAllNsFlags) != 0) ThrowType(env, "unshareFlags must be CLONE_NEW* flags");
  }
  ParseIdMap(env, spec, &out);
  if (IsSet(spec, "timensOffsets")) {
    out.has_timens = true;
    out.timens = GetString(env, spec, "timensOffsets", false);
  }
  if (IsSet(spec, "hostname")) {
    out.has_hostname = true;
    out.hostname = GetString(env, spec, "hostname", false);
  }
  out.loopback_up = IsSet(spec, "loopbackUp") && spec.Get("loopbackUp").ToBoolean().Value();
  ParseFiles(env, spec, &out);
  ParseHold(env, spec, &out);
  if (IsSet(spec, "moveMount")) {
    if (!spec.Get("moveMount").IsObject()) ThrowType(env, "moveMount must be an object");
    Napi::Object m = spec.Get("moveMount").As<Napi::Object>();
    uint32_t fd = GetUint32(env, m, "fd");
    if (fd > 2147483647u) ThrowType(env, "moveMount.fd must be an int");
    out.move_fd = static_cast<int>(fd);
    out.move_target = GetString(env, m, "targetPath", true);
    if (IsSet(m, "create")) {
      std::string create = GetString(env, m, "create", true);
      if (create != "dir" && create != "file") ThrowType(env, "moveMount.create must be \"dir\" or \"file\"");
      out.move_create = create == "dir" ? 1 : 2;
    }
  }
  if (IsSet(spec, "timeoutMs")) out.timeout_ms = GetUint32(env, spec, "timeoutMs");
  if (IsSet(spec, "debugSleepMs")) out.debug_sleep_ms = GetUint32(env, spec, "debugSleepMs");
  if (IsSet(spec, "debugCloneMode")) {
    std::string mode = GetString(env, spec, "debugCloneMode", false);
    if (mode == "vm") out.clone_mode = CloneMode::kVm;
    else if (mode == "fork") out.clone_mode = CloneMode::kFork;
    else if (mode != "auto") ThrowType(env, "debugCloneMode must be auto, vm or fork");
  }
  ParseExec(env, spec, &out);
  return out;
}

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

class LxnsAddon : public Napi::Addon<LxnsAddon> {
 public:
  LxnsAddon(Napi::Env env, Napi::Object exports) : runner_(Loop(env), OpenPauseProgram()) {
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
        InstanceMethod("runChild", &LxnsAddon::RunChild),
        InstanceMethod("cancelChild", &LxnsAddon::CancelChild),
        InstanceMethod("spawnProgram", &LxnsAddon::SpawnProgram),
        InstanceMethod("killProgram", &LxnsAddon::KillProgram),
        InstanceMethod("killAll", &LxnsAddon::KillAllJs),
        InstanceMethod("runningChildren", &LxnsAddon::RunningChildren),
        InstanceMethod("scanNamespaces", &LxnsAddon::ScanNamespacesJs),
        InstanceValue("NS_TYPES", NsTypesArray(env), napi_enumerable),
        InstanceValue("STEP_NAMES", StepNamesArray(env), napi_enumerable),
    });
    napi_add_env_cleanup_hook(env, &LxnsAddon::Cleanup, this);
    env_ = env;
  }

  ~LxnsAddon() {
    if (!cleaned_up_) napi_remove_env_cleanup_hook(env_, &LxnsAddon::Cleanup, this);
  }

  // A NativeError for f (a plain Error with the same fields before init).
  Napi::Value MakeError(Napi::Env env, const ChildFailure& f) {
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

 private:
  static uv_loop_t* Loop(Napi::Env env) {
    uv_loop_t* loop = nullptr;
    NAPI_THROW_IF_FAILED(env, napi_get_uv_event_loop(env, &loop), nullptr);
    return loop;
  }

  static Napi::Array NsTypesArray(Napi::Env env) {
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

  // Every step name a failure can carry: the child's, then the daemon's own.
  static Napi::Array StepNamesArray(Napi::Env env) {
    Napi::Array a = Napi::Array::New(env);
    uint32_t i = 0;
    for (const char* name : kChildStepNames) a.Set(i++, name);
    for (const char* name : kParentStepNames) a.Set(i++, name);
    return a;
  }

  // Run ids are counters: exact in a JS number up to 2^53.
  static uint64_t IdArg(const Napi::CallbackInfo& info, size_t i) {
    if (info.Length() <= i || !info[i].IsNumber()) ThrowType(info.Env(), "id must be a number");
    double d = info[i].As<Napi::Number>().DoubleValue();
    if (!(d >= 1 && d <= 9007199254740991.0) || d != static_cast<double>(static_cast<uint64_t>(d))) {
      ThrowType(info.Env(), "id must be an integer >= 1");
    }
    return static_cast<uint64_t>(d);
  }

  // Environment teardown: no child may outlive the daemon.
  static void Cleanup(void* arg) {
    LxnsAddon* self = static_cast<LxnsAddon*>(arg);
    self->cleaned_up_ = true;
    self->runner_.KillAll();
  }

  [[noreturn]] void Throw(Napi::Env env, int neg_errno, const char* syscall, const std::string& target) {
    throw Napi::Error(env, MakeError(env, {-neg_errno, syscall, target, "", ""}));
  }

  Napi::Value InitJs(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsFunction()) ThrowType(info.Env(), "init(errorClass)");
    error_class_ = Napi::Persistent(info[0].As<Napi::Function>());
    return info.Env().Undefined();
  }

  Napi::Value OpenPath(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsString()) ThrowType(info.Env(), "path must be a string");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    if (path.find('\0') != std::string::npos) ThrowType(info.Env(), "path contains NUL");
    int fd = OpenReadOnly(path.c_str());
    if (fd < 0) Throw(info.Env(), fd, "open", path);
    return Napi::Number::New(info.Env(), fd);
  }

  // openNsPath(path, noFollow): a real fd of an nsfs file, never blocking (ns_fd.h).
  Napi::Value OpenNsPathJs(const Napi::CallbackInfo& info) {
    std::string path = PathArg(info, 0);
    bool no_follow = info.Length() > 1 && info[1].ToBoolean().Value();
    const char* failed = "";
    int fd = OpenNsPath(path.c_str(), no_follow, &failed);
    if (fd < 0) Throw(info.Env(), fd, failed, path);
    return Napi::Number::New(info.Env(), fd);
  }

  // pidfdSendSignal(pidfd, sig): sig 0 checks the process is still there (alive or a zombie).
  Napi::Value PidfdSendSignalJs(const Napi::CallbackInfo& info) {
    int r = PidfdSignal(FdArg(info, 0), FdArg(info, 1));
    if (r < 0) Throw(info.Env(), r, "pidfd_send_signal", "");
    return info.Env().Undefined();
  }

  // openBeneath(root, relative): an O_PATH fd resolved beneath root (mount_ops.h).
  Napi::Value OpenBeneathJs(const Napi::CallbackInfo& info) {
    std::string root = PathArg(info, 0);
    std::string relative = PathArg(info, 1);
    const char* failed = "";
    int fd = OpenBeneath(root.c_str(), relative.c_str(), &failed);
    if (fd < 0) Throw(info.Env(), fd, failed, root + " + " + relative);
    return Napi::Number::New(info.Env(), fd);
  }

  // openTreeFd(fd, recursive, readOnly): a detached clone of the mount at an O_PATH fd.
  Napi::Value OpenTreeFdJs(const Napi::CallbackInfo& info) {
    int at = FdArg(info, 0);
    bool recursive = info.Length() > 1 && info[1].ToBoolean().Value();
    bool read_only = info.Length() > 2 && info[2].ToBoolean().Value();
    const char* failed = "";
    int fd = OpenTreeCloneAt(at, "", AT_EMPTY_PATH, recursive, read_only, &failed);
    if (fd < 0) Throw(info.Env(), fd, failed, "fd " + std::to_string(at));
    return Napi::Number::New(info.Env(), fd);
  }

  Napi::Value PidfdOpenJs(const Napi::CallbackInfo& info) {
    int pid = FdArg(info, 0);
    bool thread = info.Length() > 1 && info[1].ToBoolean().Value();
    // PIDFD_THREAD (O_EXCL, Linux 6.9): a pidfd of any thread, not only a thread-group leader.
    int fd = thread ? PidfdOpenFlags(pid, O_EXCL) : PidfdOpen(pid);
    if (fd < 0) Throw(info.Env(), fd, "pidfd_open", std::to_string(pid));
    return Napi::Number::New(info.Env(), fd);
  }

  // pidfd_send_signal(pidfd, 0): false once the process has exited (ESRCH).
  Napi::Value PidfdAliveJs(const Napi::CallbackInfo& info) {
    int fd = FdArg(info, 0);
    int r = PidfdSignal(fd, 0);
    if (r < 0 && r != -ESRCH) Throw(info.Env(), r, "pidfd_send_signal", std::to_string(fd));
    return Napi::Boolean::New(info.Env(), r == 0);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    int fd = FdArg(info, 0);
    int r = CloseFd(fd);
    if (r < 0) Throw(info.Env(), r, "close", std::to_string(fd));
    return info.Env().Undefined();
  }

  Napi::Value NsStatJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    NsStatInfo st;
    const char* failed = "";
    int r = NsStat(FdArg(info, 0), &st, &failed);
    if (r < 0) Throw(env, r, failed, "");
    Napi::Object out = Napi::Object::New(env);
    out.Set("ino", Napi::BigInt::New(env, st.ino));
    out.Set("dev", Napi::BigInt::New(env, st.dev));
    out.Set("nstype", st.nstype);
    return out;
  }

  Napi::Value NsGetUserns(const Napi::CallbackInfo& info) {
    int fd = NsRelatedFd(FdArg(info, 0), NS_GET_USERNS);
    if (fd < 0) Throw(info.Env(), fd, "ioctl(NS_GET_USERNS)", "");
    return Napi::Number::New(info.Env(), fd);
  }

  Napi::Value NsGetParent(const Napi::CallbackInfo& info) {
    int fd = NsRelatedFd(FdArg(info, 0), NS_GET_PARENT);
    if (fd < 0) Throw(info.Env(), fd, "ioctl(NS_GET_PARENT)", "");
    return Napi::Number::New(info.Env(), fd);
  }

  Napi::Value NsGetOwnerUid(const Napi::CallbackInfo& info) {
    uint32_t uid = 0;
    int r = NsOwnerUid(FdArg(info, 0), &uid);
    if (r < 0) Throw(info.Env(), r, "ioctl(NS_GET_OWNER_UID)", "");
    return Napi::Number::New(info.Env(), uid);
  }

  // getsockopt(SO_PEERCRED) of a connected unix socket: who connected to the daemon.
  Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
    struct ucred cred {};
    socklen_t len = sizeof cred;
    if (getsockopt(FdArg(info, 0), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) Throw(info.Env(), -errno, "getsockopt(SO_PEERCRED)", "");
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("pid", cred.pid);
    out.Set("uid", cred.uid);
    out.Set("gid", cred.gid);
    return out;
  }

  // getsockopt(SO_PEERGROUPS) of a connected unix socket: the supplementary groups the peer had when it
  // connected (the kernel's copy, taken at connect(); unlike /proc/PID/status it cannot change afterwards).
  // ERANGE says how large the list is: grow and ask again.
  Napi::Value PeerGroups(const Napi::CallbackInfo& info) {
    int fd = FdArg(info, 0);
    std::vector<gid_t> groups(32);
    for (;;) {
      socklen_t len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
      if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
        groups.resize(len / sizeof(gid_t));
        break;
      }
      if (errno != ERANGE || len / sizeof(gid_t) <= groups.size()) Throw(info.Env(), -errno, "getsockopt(SO_PEERGROUPS)", "");
      groups.resize(len / sizeof(gid_t));
    }
    Napi::Array out = Napi::Array::New(info.Env(), groups.size());
    for (size_t i = 0; i < groups.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), groups[i]));
    return out;
  }

  std::string PathArg(const Napi::CallbackInfo& info, size_t i) {
    if (info.Length() <= i || !info[i].IsString()) ThrowType(info.Env(), "path must be a string");
    std::string path = info[i].As<Napi::String>().Utf8Value();
    if (path.empty() || path.find('\0') != std::string::npos) ThrowType(info.Env(), "path must be non-empty without NUL");
    return path;
  }

  // bindMountPath(source, target): mount(source, target, MS_BIND).
  Napi::Value BindMountPathJs(const Napi::CallbackInfo& info) {
    std::string source = PathArg(info, 0);
    std::string target = PathArg(info, 1);
    int r = BindMountPath(source.c_str(), target.c_str());
    if (r < 0) Throw(info.Env(), r, "mount(MS_BIND)", target);
    return info.Env().Undefined();
  }

  Napi::Value MakeSharedMountPointJs(const Napi::CallbackInfo& info) {
    std::string dir = PathArg(info, 0);
    const char* failed = "";
    int r = MakeSharedMountPoint(dir.c_str(), &failed);
    if (r < 0) Throw(info.Env(), r, failed, dir);
    return info.Env().Undefined();
  }

  Napi::Value UnmountDetachJs(const Napi::CallbackInfo& info) {
    std::string path = PathArg(info, 0);
    int r = UnmountDetach(path.c_str());
    if (r < 0) Throw(info.Env(), r, "umount2", path);
    return info.Env().Undefined();
  }

  // openTree(path, recursive, readOnly): a detached clone's fd.
  Napi::Value OpenTreeJs(const Napi::CallbackInfo& info) {
    std::string path = PathArg(info, 0);
    bool recursive = info.Length() > 1 && info[1].ToBoolean().Value();
    bool read_only = info.Length() > 2 && info[2].ToBoolean().Value();
    const char* failed = "";
    int fd = OpenTreeClone(path.c_str(), recursive, read_only, &failed);
    if (fd < 0) Throw(info.Env(), fd, failed, path);
    return Napi::Number::New(info.Env(), fd);
  }

  Napi::Value RunChild(const Napi::CallbackInfo& info) {
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
  Napi::Value SpawnProgram(const Napi::CallbackInfo& info) {
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
  Napi::Value KillAllJs(const Napi::CallbackInfo& info) {
    runner_.KillAll();
    return info.Env().Undefined();
  }

  // killProgram(id, signal): false when no such program is running.
  Napi::Value KillProgram(const Napi::CallbackInfo& info) {
    uint64_t id = IdArg(info, 0);
    int sig = FdArg(info, 1);
    if (sig > 64) ThrowType(info.Env(), "signal must be in [0, 64]");
    return Napi::Boolean::New(info.Env(), runner_.SignalProgram(id, sig));
  }

  // cancelChild(id): false when run `id` has no running child.
  Napi::Value CancelChild(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), runner_.Cancel(IdArg(info, 0)));
  }

  // scanNamespaces(): Promise<RawScanRow[]>, the /proc walk on the libuv pool (ns_scan.cc).
  Napi::Value ScanNamespacesJs(const Napi::CallbackInfo& info) {
    return QueueNamespaceScan(info.Env(), [this](Napi::Env env, int err, const char* syscall) {
      return MakeError(env, {err, syscall, "/proc", "", ""});
    });
  }

  Napi::Value RunningChildren(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(runner_.running()));
  }

  Napi::Env env_ = Napi::Env(nullptr);
  Napi::FunctionReference error_class_;
  ChildRunner runner_;
  bool cleaned_up_ = false;
};

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

}  // namespace

NODE_API_ADDON(LxnsAddon)
