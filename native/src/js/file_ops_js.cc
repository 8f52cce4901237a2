// fileOp(op, args, creds?): one file_ops.h call on a thread of its own (a
// path lookup or read may hang on a dead mount: neither the event loop nor
// the libuv pool ever waits for it), settling a Promise. See RawFileOpName
// in native/lib/raw.ts for the ops and their args.
#include <sys/stat.h>

#include <memory>
#include <system_error>
#include <thread>
#include <string>
#include <vector>

#include "file_ops.h"
#include "mount_ops.h"
#include "ns_fd.h"
#include "op_threads.h"
#include "js/addon.h"
#include "js/js_args.h"

namespace {

enum class Op { kOpen, kStat, kReadLink, kRename, kUnlink, kChown, kChmod, kList, kRead, kWrite, kFdatasync, kClose, kOpenPath, kOpenBeneath, kOpenRead };

struct OpArgs {
  Op op = Op::kOpen;
  int fd = -1;
  std::string path;
  std::string to;
  int flags = 0;
  unsigned int mode = 0;
  bool in_root = true;
  bool with_stat = false;  // open: fstat the new fd too
  int64_t uid = -1;
  int64_t gid = -1;
  size_t max = 0;
  size_t length = 0;     // read, write: bytes
  uint64_t position = 0;  // read: the file offset
  std::string root;       // openRead: a root directory path (/proc/PID/root) opened (and closed) by the op instead of fd
  bool close_when_full = false;  // openRead: close the fd once the buffer is full too
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
  if (name == "read") return Op::kRead;
  if (name == "write") return Op::kWrite;
  if (name == "fdatasync") return Op::kFdatasync;
  if (name == "close") return Op::kClose;
  if (name == "openPath") return Op::kOpenPath;
  if (name == "openBeneath") return Op::kOpenBeneath;
  if (name == "openRead") return Op::kOpenRead;
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
    case Op::kRead: return "pread";
    case Op::kWrite: return "write";
    case Op::kFdatasync: return "fdatasync";
    case Op::kClose: return "close";
    case Op::kOpenPath: return "open";
    case Op::kOpenBeneath: return "openat2";
    case Op::kOpenRead: return "openat2";
  }
  return "";
}

// An optional id: a number >= 0, or absent (-1: unchanged).
int64_t OptionalId(Napi::Env env, const Napi::Object& o, const char* key) {
  return IsSet(o, key) ? static_cast<int64_t>(GetUint32(env, o, key)) : -1;
}

// One fileOp call: its arguments, its result, and the promise it settles.
// It runs on a thread of its own (never the libuv pool: a lookup or read on
// a hung mount would park a pool thread for good, and four of them stall
// every fs call of the daemon), and settles its promise on the loop thread
// through a thread-safe function of its own. A thread that never returns
// keeps only itself and this job.
class FileOpJob {
 public:
  FileOpJob(Napi::Env env, LxnsAddon* addon, OpArgs args, std::unique_ptr<FileCreds> creds)
      : deferred_(Napi::Promise::Deferred::New(env)), addon_(addon), args_(std::move(args)), creds_(std::move(creds)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  // The buffer a read fills or a write takes, held until the job settles.
  void HoldBuffer(Napi::Uint8Array buffer) {
    buffer_ref_ = Napi::Persistent(buffer.As<Napi::Object>());
    data_ = buffer.Data();
  }

  // Starts the job on a thread to itself; when none can be made the promise is rejected (EAGAIN).
  void Start(Napi::Env env) {
    tsfn_ = Tsfn::New(env, "lxnsd:fileOp", 0, 1, this);
    auto work = [this] {
      if (creds_) {
        int taken = TakeCredsOnThisThread(*creds_);
        result_ = taken < 0 ? taken : Run();
      } else {
        result_ = Run();
      }
      Tsfn tsfn = tsfn_;
      if (tsfn.BlockingCall(this) != napi_ok) return;  // the environment is gone: nobody to settle
      tsfn.Release();
    };
    try {
      // Credentials taken by a thread die with it: such a thread is never reused.
      if (creds_) {
        std::thread(work).detach();
      } else {
        RunOnOwnThread(work);
      }
    } catch (const std::system_error& e) {
      tsfn_.Release();
      result_ = -(e.code().value() ? e.code().value() : EAGAIN);
      failed_ = "pthread_create";
      Settle(env);
      delete this;
    }
  }

  static void CallJs(Napi::Env env, Napi::Function, FileOpJob* context, FileOpJob* job) {
    (void)context;
    if (env != nullptr) job->Settle(env);
    delete job;
  }
  using Tsfn = Napi::TypedThreadSafeFunction<FileOpJob, FileOpJob, &FileOpJob::CallJs>;

 private:
  void Settle(Napi::Env env) {
    Napi::HandleScope scope(env);
    if (!buffer_ref_.IsEmpty()) buffer_ref_.Reset();
    if (result_ < 0) {
      // An fd opened by the op is never handed out on failure (Run closes nothing it did not open).
      const char* syscall = failed_ ? failed_ : SyscallOf(args_.op);
      const std::string& target = failed_root_ ? args_.root : args_.path;
      deferred_.Reject(addon_->MakeError(env, {-result_, syscall, target, "", ""}));
      return;
    }
    if (args_.op == Op::kOpenRead) {
      Napi::Object o = StatObject(env, stat_);
      o.Set("fd", read_fd_);
      o.Set("bytes", Napi::Number::New(env, static_cast<double>(read_bytes_)));
      o.Set("eof", read_eof_);
      deferred_.Resolve(o);
      return;
    }
    if (args_.op == Op::kOpen && args_.with_stat) {
      Napi::Object o = StatObject(env, stat_);
      o.Set("fd", result_);
      deferred_.Resolve(o);
      return;
    }
    switch (args_.op) {
      case Op::kOpen:
      case Op::kOpenPath:
      case Op::kOpenBeneath:
      case Op::kRead:
      case Op::kWrite: deferred_.Resolve(Napi::Number::New(env, result_)); break;
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

  int Run() {
    const OpArgs& a = args_;
    switch (a.op) {
      case Op::kOpen: {
        int fd = OpenInRoot(a.fd, a.path.c_str(), a.flags, a.mode, a.in_root);
        if (fd < 0 || !a.with_stat) return fd;
        int st = StatFd(fd, &stat_);
        if (st < 0) {
          CloseFd(fd);
          failed_ = "fstatat";
          return st;
        }
        return fd;
      }
      case Op::kStat: return StatFd(a.fd, &stat_);
      case Op::kReadLink: return ReadLinkFd(a.fd, &link_);
      case Op::kRename: return RenameIn(a.fd, a.path.c_str(), a.to.c_str());
      case Op::kUnlink: return UnlinkIn(a.fd, a.path.c_str());
      case Op::kChown: return ChownFd(a.fd, a.uid, a.gid);
      case Op::kChmod: return ChmodFd(a.fd, a.mode);
      case Op::kList: return ListDir(a.fd, a.max, &entries_);
      case Op::kRead: return ReadAt(a.fd, data_, a.length, a.position);
      case Op::kWrite: return WriteSome(a.fd, data_, a.length);
      case Op::kFdatasync: return DataSync(a.fd);
      case Op::kClose: return CloseFd(a.fd);
      case Op::kOpenPath: return OpenPathFlags(a.path.c_str(), a.flags);
      case Op::kOpenBeneath: return OpenBeneath(a.path.c_str(), a.to.c_str(), &failed_);
      case Op::kOpenRead: return OpenRead();
    }
    return -EINVAL;
  }

  // openRead: the open, fstat and first block of a read in one trip. The
  // root (a.root, or a.fd) is resolved in with RESOLVE_IN_ROOT; a regular
  // file is read from a.position until the buffer is full or a read
  // returns 0 (the end: read_eof_). The fd is closed here (read_fd_ -1) at
  // the end, once full with close_when_full, and for anything but a
  // regular file (the caller only refuses those); otherwise it is the
  // caller's. Nothing the op opened is left open on a failure.
  int OpenRead() {
    const OpArgs& a = args_;
    int dir = a.fd;
    if (!a.root.empty()) {
      dir = OpenPathFlags(a.root.c_str(), O_PATH | O_DIRECTORY);
      if (dir < 0) {
        failed_ = "open";
        failed_root_ = true;
        return dir;
      }
    }
    int fd = OpenInRoot(dir, a.path.c_str(), a.flags, 0, true);
    if (dir != a.fd) CloseFd(dir);
    if (fd < 0) return fd;
    int st = StatFd(fd, &stat_);
    if (st < 0) {
      CloseFd(fd);
      failed_ = "fstatat";
      return st;
    }
    if (!S_ISREG(stat_.st_mode)) {
      CloseFd(fd);
      return 0;
    }
    while (read_bytes_ < a.length) {
      int n = ReadAt(fd, data_ + read_bytes_, a.length - read_bytes_, a.position + read_bytes_);
      if (n < 0) {
        CloseFd(fd);
        failed_ = "pread";
        return n;
      }
      if (n == 0) {
        read_eof_ = true;
        break;
      }
      read_bytes_ += static_cast<size_t>(n);
    }
    if (read_eof_ || a.close_when_full) {
      CloseFd(fd);
    } else {
      read_fd_ = fd;
    }
    return 0;
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
  Tsfn tsfn_;
  Napi::ObjectReference buffer_ref_;
  uint8_t* data_ = nullptr;
  int result_ = 0;
  const char* failed_ = nullptr;
  FileStat stat_;
  std::string link_;
  std::vector<DirEntry> entries_;
  bool failed_root_ = false;  // openRead: opening args_.root failed
  int read_fd_ = -1;        // openRead: the fd left open, or -1
  size_t read_bytes_ = 0;   // openRead: bytes read into the buffer
  bool read_eof_ = false;   // openRead: a read returned 0
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
  bool by_path = args.op == Op::kOpenPath || args.op == Op::kOpenBeneath;
  if (args.op == Op::kOpenRead && IsSet(o, "root")) {
    args.root = GetString(env, o, "root", true);
  } else if (!by_path) {
    args.fd = GetFd(env, o, "fd");
  }
  if (IsSet(o, "closeWhenFull")) args.close_when_full = o.Get("closeWhenFull").ToBoolean().Value();
  if (IsSet(o, "path")) args.path = GetString(env, o, "path", true);
  if (IsSet(o, "to")) args.to = GetString(env, o, "to", true);
  if (IsSet(o, "flags")) args.flags = static_cast<int>(GetUint32(env, o, "flags"));
  if (IsSet(o, "mode")) args.mode = GetUint32(env, o, "mode") & 07777;
  if (IsSet(o, "inRoot")) args.in_root = o.Get("inRoot").ToBoolean().Value();
  if (IsSet(o, "withStat")) args.with_stat = o.Get("withStat").ToBoolean().Value();
  args.uid = OptionalId(env, o, "uid");
  args.gid = OptionalId(env, o, "gid");
  if (IsSet(o, "max")) args.max = GetUint32(env, o, "max");
  if (IsSet(o, "position")) args.position = GetUint64(env, o, "position");
  bool needs_path = args.op == Op::kOpen || args.op == Op::kOpenRead || args.op == Op::kRename || args.op == Op::kUnlink || by_path;
  if (needs_path && args.path.empty()) ThrowType(env, "fileOp: path is required");
  if ((args.op == Op::kRename || args.op == Op::kOpenBeneath) && args.to.empty()) ThrowType(env, "fileOp: to is required");
  Napi::Uint8Array buffer;
  if (args.op == Op::kRead || args.op == Op::kWrite || args.op == Op::kOpenRead) {
    Napi::Value b = o.Get("buffer");
    if (!b.IsTypedArray() || b.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) ThrowType(env, "fileOp: buffer must be a Uint8Array");
    buffer = b.As<Napi::Uint8Array>();
    args.length = buffer.ByteLength();
  }
  std::unique_ptr<FileCreds> creds = ParseCreds(env, info.Length() > 2 ? info[2] : env.Undefined());
  FileOpJob* job = new FileOpJob(env, this, std::move(args), std::move(creds));
  if (!buffer.IsEmpty()) job->HoldBuffer(buffer);
  Napi::Promise promise = job->Promise();
  job->Start(env);  // deletes itself once settled
  return promise;
}
