// finitModule(fd, params, path?) and deleteModule(name): insmod and rmmod as
// syscalls, so callers get the real errno (EEXIST, EBUSY, ENOENT) rather than
// a tool's message.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "addon.h"
#include "errno_error.h"

namespace kmodlab {

static Napi::Value FinitModule(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0, "fd");
  // Absent params are none; anything but a string is a mistake, not "".
  std::string params;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsString())
      throw InvalidArgType(env, "The \"params\" argument must be of type string");
    params = info[1].As<Napi::String>().Utf8Value();
  }
  std::string path = ArgOptionalPath(info, 2);
  if (syscall(SYS_finit_module, fd, params.c_str(), 0) < 0)
    ThrowErrno(env, "finit_module", path.c_str());
  return env.Undefined();
}

static Napi::Value DeleteModule(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw InvalidArgType(env, "deleteModule expects a module name");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  // O_NONBLOCK: fail with EBUSY at once instead of waiting for users to go.
  if (syscall(SYS_delete_module, name.c_str(), O_NONBLOCK) < 0)
    ThrowErrno(env, "delete_module", name.c_str());
  return env.Undefined();
}

void InitKernelModule(Napi::Env env, Napi::Object exports) {
  exports.Set("finitModule", Napi::Function::New(env, FinitModule, "finitModule"));
  exports.Set("deleteModule", Napi::Function::New(env, DeleteModule, "deleteModule"));
}

}  // namespace kmodlab
