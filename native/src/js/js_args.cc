#include "js/js_args.h"

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

int FdArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber()) ThrowType(info.Env(), "fd must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d < 0 || d > 2147483647.0 || d != static_cast<int>(d)) ThrowType(info.Env(), "fd must be an int >= 0");
  return static_cast<int>(d);
}

std::string PathArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsString()) ThrowType(info.Env(), "path must be a string");
  std::string path = info[i].As<Napi::String>().Utf8Value();
  if (path.empty() || path.find('\0') != std::string::npos) ThrowType(info.Env(), "path must be non-empty without NUL");
  return path;
}

// Run ids are counters: exact in a JS number up to 2^53.
uint64_t IdArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber()) ThrowType(info.Env(), "id must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 1 && d <= 9007199254740991.0) || d != static_cast<double>(static_cast<uint64_t>(d))) {
    ThrowType(info.Env(), "id must be an integer >= 1");
  }
  return static_cast<uint64_t>(d);
}
