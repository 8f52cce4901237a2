// N-API side of the /proc scan: runs ScanNamespaces on the libuv pool and
// settles a Promise with plain row objects (see RawScanRow in native/lib/raw.ts).
#ifndef LXNSD_NATIVE_NS_SCAN_JS_H_
#define LXNSD_NATIVE_NS_SCAN_JS_H_

#include <napi.h>

#include <functional>

// Builds the NativeError for a failed scan: (env, positive errno, syscall).
using ScanErrorMaker = std::function<Napi::Value(Napi::Env, int, const char*)>;

// Queues one scan; the Promise resolves to RawScanRow[] or rejects with
// make_error's value. make_error must outlive the scan (the addon does).
Napi::Promise QueueNamespaceScan(Napi::Env env, ScanErrorMaker make_error);

#endif  // LXNSD_NATIVE_NS_SCAN_JS_H_
