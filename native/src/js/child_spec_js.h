// The JS child spec (RawChildSpec in native/lib/raw.ts) -> ChildSpec. The
// TS wrapper has checked it already; this keeps the C++ side safe on its own.
#ifndef LXNSD_NATIVE_CHILD_SPEC_JS_H_
#define LXNSD_NATIVE_CHILD_SPEC_JS_H_

#include <napi.h>

#include "child/child_spec.h"

// Throws a TypeError on the first bad field.
ChildSpec ParseSpec(Napi::Env env, const Napi::Value& value);

#endif  // LXNSD_NATIVE_CHILD_SPEC_JS_H_
