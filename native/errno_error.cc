#include "errno_error.h"

#include <uv.h>

#include <cerrno>
#include <cmath>
#include <string>

namespace kmodlab {

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall,
                       const char* path) {
  // libuv's names and texts are the ones Node's fs errors use.
  const char* code = uv_err_name(-err);
  std::string message = std::string(code) + ": " + uv_strerror(-err) + ", " +
                        syscall;
  if (path != nullptr && *path != '\0')
    message += std::string(" '") + path + "'";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("code", Napi::String::New(env, code));
  error.Set("syscall", Napi::String::New(env, syscall));
  if (path != nullptr && *path != '\0')
    error.Set("path", Napi::String::New(env, path));
  return error;
}

void ThrowErrno(Napi::Env env, const char* syscall, const char* path) {
  throw ErrnoError(env, errno, syscall, path);
}

Napi::Error InvalidArgType(Napi::Env env, const std::string& message) {
  Napi::Error error = Napi::TypeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  return error;
}

Napi::Error InvalidArgValue(Napi::Env env, const std::string& message) {
  Napi::Error error = Napi::TypeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_VALUE"));
  return error;
}

Napi::Error OutOfRange(Napi::Env env, const std::string& message) {
  Napi::Error error = Napi::RangeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_OUT_OF_RANGE"));
  return error;
}

int64_t ArgInt64(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsNumber())
    throw InvalidArgType(env, std::string("The \"") + name +
                                   "\" argument must be of type number");
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(value) || std::trunc(value) != value ||
      std::fabs(value) > 9007199254740991.0)
    throw OutOfRange(env, std::string("The value of \"") + name +
                                  "\" is out of range. It must be an integer.");
  return static_cast<int64_t>(value);
}

int32_t ArgInt32(const Napi::CallbackInfo& info, size_t index, const char* name) {
  int64_t value = ArgInt64(info, index, name);
  if (value < INT32_MIN || value > INT32_MAX)
    throw OutOfRange(info.Env(), std::string("The value of \"") + name +
                       "\" is out of range. It must be a 32-bit integer.");
  return static_cast<int32_t>(value);
}

std::string ArgOptionalPath(const Napi::CallbackInfo& info, size_t index) {
  if (index < info.Length() && info[index].IsString())
    return info[index].As<Napi::String>().Utf8Value();
  return std::string();
}

}  // namespace kmodlab
