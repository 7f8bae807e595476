// Errors shaped like Node's own system errors: message "ECODE: description,
// syscall 'path'", with .code, .errno (negative), .syscall and .path.
#pragma once

#include <napi.h>

namespace kmodlab {

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall,
                       const char* path = nullptr);

// Throws ErrnoError(env, errno, ...) as a C++ exception (NAPI_CPP_EXCEPTIONS).
[[noreturn]] void ThrowErrno(Napi::Env env, const char* syscall,
                             const char* path = nullptr);

// Argument errors as Node makes them: TypeError with code ERR_INVALID_ARG_TYPE
// or ERR_INVALID_ARG_VALUE, RangeError with code ERR_OUT_OF_RANGE.
Napi::Error InvalidArgType(Napi::Env env, const std::string& message);
Napi::Error InvalidArgValue(Napi::Env env, const std::string& message);
Napi::Error OutOfRange(Napi::Env env, const std::string& message);

// Argument checks that throw the errors above.
int32_t ArgInt32(const Napi::CallbackInfo& info, size_t index, const char* name);
int64_t ArgInt64(const Napi::CallbackInfo& info, size_t index, const char* name);
// An optional trailing path used only to label errors.
std::string ArgOptionalPath(const Napi::CallbackInfo& info, size_t index);

}  // namespace kmodlab
