#include "js/child_spec_js.h"

#include <sched.h>

#include <string>
#include <vector>

#include "compat.h"
#include "js/js_args.h"
#include "ns_table.h"

namespace {

constexpr size_t kMaxReadBytes = 16 * 1024 * 1024;

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

// spec.exec (see RawSpawnSpec in native/lib/raw.ts); the TS wrapper has
// checked it already, this keeps the C++ side safe on its own.
void ParseExec(Napi::Env env, const Napi::Object& spec, ChildSpec* out) {
  if (!IsSet(spec, "exec")) return;
  if (!spec.Get("exec").IsObject()) ThrowType(env, "exec must be an object");
  if (!out->hold_ns.empty() || out->has_read || out->has_write) {
    ThrowType(env, "exec cannot be combined with holdNs, readFile or writeFile");
  }
  Napi::Object e = spec.Get("exec").As<Napi::Object>();
  ProgramSpec& x = out->exec;
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
  if (IsSet(e, "tty")) {
    if (!e.Get("tty").IsObject()) ThrowType(env, "exec.tty must be an object");
    Napi::Object t = e.Get("tty").As<Napi::Object>();
    uint32_t rows = GetUint32(env, t, "rows");
    uint32_t cols = GetUint32(env, t, "cols");
    if (rows > 0xffff || cols > 0xffff) ThrowType(env, "exec.tty rows and cols must be at most 65535");
    if (x.collect_output) ThrowType(env, "exec.tty cannot be combined with collectOutput");
    x.tty = true;
    x.tty_rows = static_cast<uint16_t>(rows);
    x.tty_cols = static_cast<uint16_t>(cols);
  }
  if (IsSet(e, "cgroupParent")) {
    x.cgroup_parent = GetString(env, e, "cgroupParent", true);
    if (x.cgroup_parent[0] != '/') ThrowType(env, "exec.cgroupParent must be an absolute path");
  }
  x.reuse_cgroup = !x.cgroup_parent.empty() && IsSet(e, "reuseCgroup") && e.Get("reuseCgroup").ToBoolean().Value();
}

}  // namespace

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
