#include "js/ns_scan_js.h"

#include <utility>
#include <vector>

#include "js/addon.h"
#include "js/js_args.h"
#include "ns_scan.h"
#include "proc_command.h"

namespace {

class ScanWorker : public Napi::AsyncWorker {
 public:
  ScanWorker(Napi::Env env, ScanErrorMaker make_error)
      : Napi::AsyncWorker(env, "lxnsd:scanNamespaces"), deferred_(Napi::Promise::Deferred::New(env)), make_error_(std::move(make_error)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  // On a pool thread: no JS here.
  void Execute() override { result_ = ScanNamespaces(&rows_, &failed_); }

  void OnOK() override {
    Napi::Env env = Env();
    if (result_ < 0) {
      deferred_.Reject(make_error_(env, -result_, failed_));
      return;
    }
    Napi::Array out = Napi::Array::New(env, rows_.size());
    for (uint32_t i = 0; i < rows_.size(); i++) out.Set(i, RowObject(env, rows_[i]));
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  static Napi::Object RowObject(Napi::Env env, const NsScanRow& row) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("typeIndex", row.type_index);
    o.Set("ino", Napi::BigInt::New(env, row.ino));
    o.Set("dev", Napi::BigInt::New(env, row.dev));
    o.Set("nprocs", row.nprocs);
    o.Set("pid", row.pid);
    o.Set("uid", row.uid);
    o.Set("command", row.command);
    o.Set("ownerIno", Napi::BigInt::New(env, row.owner_ino));
    if (row.has_owner_uid) o.Set("ownerUid", row.owner_uid);
    if (row.has_parent) o.Set("parentIno", Napi::BigInt::New(env, row.parent_ino));
    return o;
  }

  Napi::Promise::Deferred deferred_;
  ScanErrorMaker make_error_;
  std::vector<NsScanRow> rows_;
  int result_ = 0;
  const char* failed_ = "";
};

// One ProcessCommand on the libuv pool (it holds the pool thread at most kCommandBound).
class CommandWorker : public Napi::AsyncWorker {
 public:
  CommandWorker(Napi::Env env, int pid) : Napi::AsyncWorker(env, "lxnsd:processCommand"), deferred_(Napi::Promise::Deferred::New(env)), pid_(pid) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override { command_ = ProcessCommand(pid_); }
  void OnOK() override { deferred_.Resolve(Napi::String::New(Env(), command_)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  int pid_;
  std::string command_;
};

}  // namespace

// processCommand(pid): Promise<string>, lsns COMMAND of one process (proc_command.h).
Napi::Value LxnsAddon::ProcessCommandJs(const Napi::CallbackInfo& info) {
  CommandWorker* worker = new CommandWorker(info.Env(), FdArg(info, 0));
  Napi::Promise promise = worker->Promise();
  worker->Queue();  // deletes itself once settled
  return promise;
}

// stuckCommandReads(): how many threads wait in a cmdline read past its bound.
Napi::Value LxnsAddon::StuckCommandReadsJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(StuckCommandReads()));
}

Napi::Promise QueueNamespaceScan(Napi::Env env, ScanErrorMaker make_error) {
  ScanWorker* worker = new ScanWorker(env, std::move(make_error));
  Napi::Promise promise = worker->Promise();
  worker->Queue();  // the worker deletes itself after OnOK/OnError
  return promise;
}
