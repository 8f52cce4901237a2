// Reading N-API arguments and object fields into C++ values; every bad
// value throws a TypeError naming what was wrong.
#ifndef LXNSD_NATIVE_JS_ARGS_H_
#define LXNSD_NATIVE_JS_ARGS_H_

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

[[noreturn]] void ThrowType(Napi::Env env, const std::string& what);
// o[key] is present and neither undefined nor null.
bool IsSet(const Napi::Object& o, const char* key);
// o[key] as a string; with `path`, non-empty and without NUL.
std::string GetString(Napi::Env env, const Napi::Object& o, const char* key, bool path);
uint32_t GetUint32(Napi::Env env, const Napi::Object& o, const char* key);
// o[key] as a bigint that fits a uint64.
uint64_t GetUint64(Napi::Env env, const Napi::Object& o, const char* key);
// o[key] as an fd (a uint32 <= INT_MAX).
int GetFd(Napi::Env env, const Napi::Object& o, const char* key);
// o[key] as an array of strings without NUL.
std::vector<std::string> GetStrings(Napi::Env env, const Napi::Object& o, const char* key);
// info[i] as an int >= 0 (fds, pids, signals).
int FdArg(const Napi::CallbackInfo& info, size_t i);
// info[i] as a non-empty path without NUL.
std::string PathArg(const Napi::CallbackInfo& info, size_t i);
// info[i] as a run id (>= 1).
uint64_t IdArg(const Napi::CallbackInfo& info, size_t i);

#endif  // LXNSD_NATIVE_JS_ARGS_H_
