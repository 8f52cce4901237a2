// fileOp(op, args, creds?): one file_ops.h call on the libuv pool (a path
// lookup may hang on a dead mount; the event loop never waits), settling a
// Promise. See RawFileOp in native/lib/raw.ts for the ops and their args.
#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "file_ops.h"
#include "js/addon.h"
#include "js/js_args.h"

namespace {

enum class Op { kOpen, kStat, kReadLink, kRename, kUnlink, kChown, kChmod, kList };

struct OpArgs {
  Op op = Op::kOpen;
  int fd = -1;
  std::string path;
  std::string to;
  int flags = 0;
  unsigned int mode = 0;
  bool in_root = true;
  int64_t uid = -1;
  int64_t gid = -1;
  size_t max = 0;
};

Op ParseOp(Napi::Env env, const std::string& name) {
  if (name == "open") return Op::kOpen;
  if (name == "stat") return Op::kStat;
  if (name == "readlink") return Op::kReadLink;
  if (name == "rename") return Op::kRename;
  if (name == "unlink") return Op::kUnlink;
  if (name == "chown") return Op::kChown;
  if (name == "chmod") return Op::kChmod;
  if (name == "list") return Op::kList;
  ThrowType(env, "fileOp: unknown op " + name);
}

const char* SyscallOf(Op op) {
  switch (op) {
    case Op::kOpen: return "openat2";
    case Op::kStat: return "fstatat";
    case Op::kReadLink: return "readlinkat";
    case Op::kRename: return "renameat";
    case Op::kUnlink: return "unlinkat";
    case Op::kChown: return "fchownat";
    case Op::kChmod: return "fchmod";
    case Op::kList: return "getdents";
  }
  return "";
}

// An optional id: a number >= 0, or absent (-1: unchanged).
int64_t OptionalId(Napi::Env env, const Napi::Object& o, const char* key) {
  return IsSet(o, key) ? static_cast<int64_t>(GetUint32(env, o, key)) : -1;
}

class FileOpWorker : public Napi::AsyncWorker {
 public:
  FileOpWorker(Napi::Env env, LxnsAddon* addon, OpArgs args, std::unique_ptr<FileCreds> creds)
      : Napi::AsyncWorker(env, "lxnsd:fileOp"), deferred_(Napi::Promise::Deferred::New(env)), addon_(addon),
        args_(std::move(args)), creds_(std::move(creds)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    result_ = RunWithCreds(creds_.get(), [this] { return Run(); });
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (result_ < 0) {
      // An fd opened by the op is never handed out on failure (Run closes nothing it did not open).
      deferred_.Reject(addon_->MakeError(env, {-result_, SyscallOf(args_.op), args_.path, "", ""}));
      return;
    }
    switch (args_.op) {
      case Op::kOpen: deferred_.Resolve(Napi::Number::New(env, result_)); break;
      case Op::kStat: deferred_.Resolve(StatObject(env, stat_)); break;
      case Op::kReadLink: deferred_.Resolve(Napi::String::New(env, link_)); break;
      case Op::kList: {
        Napi::Array out = Napi::Array::New(env, entries_.size());
        for (uint32_t i = 0; i < entries_.size(); i++) {
          Napi::Object o = StatObject(env, entries_[i].st);
          o.Set("name", entries_[i].name);
          o.Set("link", entries_[i].link);
          out.Set(i, o);
        }
        deferred_.Resolve(out);
        break;
      }
      default: deferred_.Resolve(env.Undefined());
    }
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  int Run() {
    const OpArgs& a = args_;
    switch (a.op) {
      case Op::kOpen: return OpenInRoot(a.fd, a.path.c_str(), a.flags, a.mode, a.in_root);
      case Op::kStat: return StatFd(a.fd, &stat_);
      case Op::kReadLink: return ReadLinkFd(a.fd, &link_);
      case Op::kRename: return RenameIn(a.fd, a.path.c_str(), a.to.c_str());
      case Op::kUnlink: return UnlinkIn(a.fd, a.path.c_str());
      case Op::kChown: return ChownFd(a.fd, a.uid, a.gid);
      case Op::kChmod: return ChmodFd(a.fd, a.mode);
      case Op::kList: return ListDir(a.fd, a.max, &entries_);
    }
    return -EINVAL;
  }

  static Napi::Object StatObject(Napi::Env env, const FileStat& st) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("mode", st.st_mode);
    o.Set("size", Napi::BigInt::New(env, st.size));
    o.Set("uid", st.uid);
    o.Set("gid", st.gid);
    o.Set("mtimeSec", Napi::Number::New(env, static_cast<double>(st.mtime_sec)));
    o.Set("mtimeNsec", st.mtime_nsec);
    return o;
  }

  Napi::Promise::Deferred deferred_;
  LxnsAddon* addon_;
  OpArgs args_;
  std::unique_ptr<FileCreds> creds_;
  int result_ = 0;
  FileStat stat_;
  std::string link_;
  std::vector<DirEntry> entries_;
};

std::unique_ptr<FileCreds> ParseCreds(Napi::Env env, const Napi::Value& value) {
  if (value.IsUndefined() || value.IsNull()) return nullptr;
  if (!value.IsObject()) ThrowType(env, "fileOp: creds must be an object");
  Napi::Object o = value.As<Napi::Object>();
  auto creds = std::make_unique<FileCreds>();
  creds->uid = GetUint32(env, o, "uid");
  creds->gid = GetUint32(env, o, "gid");
  creds->effective = GetUint64(env, o, "effective");
  if (!o.Get("groups").IsArray()) ThrowType(env, "fileOp: creds.groups must be an array");
  Napi::Array groups = o.Get("groups").As<Napi::Array>();
  for (uint32_t i = 0; i < groups.Length(); i++) {
    Napi::Value g = groups.Get(i);
    if (!g.IsNumber()) ThrowType(env, "fileOp: creds.groups must hold numbers");
    creds->groups.push_back(g.As<Napi::Number>().Uint32Value());
  }
  return creds;
}

}  // namespace

Napi::Value LxnsAddon::FileOpJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject()) ThrowType(env, "fileOp(op, args, creds?)");
  OpArgs args;
  args.op = ParseOp(env, info[0].As<Napi::String>().Utf8Value());
  Napi::Object o = info[1].As<Napi::Object>();
  args.fd = GetFd(env, o, "fd");
  if (IsSet(o, "path")) args.path = GetString(env, o, "path", true);
  if (IsSet(o, "to")) args.to = GetString(env, o, "to", true);
  if (IsSet(o, "flags")) args.flags = static_cast<int>(GetUint32(env, o, "flags"));
  if (IsSet(o, "mode")) args.mode = GetUint32(env, o, "mode") & 07777;
  if (IsSet(o, "inRoot")) args.in_root = o.Get("inRoot").ToBoolean().Value();
  args.uid = OptionalId(env, o, "uid");
  args.gid = OptionalId(env, o, "gid");
  if (IsSet(o, "max")) args.max = GetUint32(env, o, "max");
  bool needs_path = args.op == Op::kOpen || args.op == Op::kRename || args.op == Op::kUnlink;
  if (needs_path && args.path.empty()) ThrowType(env, "fileOp: path is required");
  if (args.op == Op::kRename && args.to.empty()) ThrowType(env, "fileOp: to is required");
  std::unique_ptr<FileCreds> creds = ParseCreds(env, info.Length() > 2 ? info[2] : env.Undefined());
  FileOpWorker* worker = new FileOpWorker(env, this, std::move(args), std::move(creds));
  Napi::Promise promise = worker->Promise();
  worker->Queue();  // deletes itself after OnOK/OnError
  return promise;
}
