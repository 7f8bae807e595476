// ioctl(fd, request, arg?, path?) -> the call's non-negative result.
// arg is an integer (passed by value) or a Buffer/TypedArray (passed by
// pointer, so the kernel can read or fill it in place).
#include <sys/ioctl.h>

#include <cerrno>

#include "addon.h"
#include "errno_error.h"

namespace kmodlab {

static Napi::Value Ioctl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0, "fd");
  int64_t request = ArgInt64(info, 1, "request");
  if (request < 0 || request > UINT32_MAX)
    throw OutOfRange(env, "The value of \"request\" is out of range. It must be a 32-bit unsigned integer.");
  std::string path = ArgOptionalPath(info, 3);

  unsigned long arg = 0;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    Napi::Value value = info[2];
    if (value.IsTypedArray()) {
      Napi::TypedArray view = value.As<Napi::TypedArray>();
      arg = reinterpret_cast<unsigned long>(
          static_cast<uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset());
    } else if (value.IsBigInt()) {
      bool lossless = false;
      arg = value.As<Napi::BigInt>().Uint64Value(&lossless);
      if (!lossless)
        throw OutOfRange(env, "The value of \"arg\" is out of range. It must fit in 64 bits.");
    } else {
      arg = static_cast<unsigned long>(ArgInt64(info, 2, "arg"));
    }
  }

  int ret;
  do {
    ret = ioctl(fd, static_cast<unsigned long>(request), arg);
  } while (ret < 0 && errno == EINTR);
  if (ret < 0)
    ThrowErrno(env, "ioctl", path.c_str());
  return Napi::Number::New(env, ret);
}

void InitIoctl(Napi::Env env, Napi::Object exports) {
  exports.Set("ioctl", Napi::Function::New(env, Ioctl, "ioctl"));
}

}  // namespace kmodlab
