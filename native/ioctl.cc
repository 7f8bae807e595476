// ioctl(fd, request, arg?, path?) -> the call's non-negative result.
// arg is an integer (passed by value) or a Buffer/TypedArray/DataView
// (passed by pointer, so the kernel can read or fill it in place).
//
// A request that encodes a direction (_IOR, _IOW, _IOWR) makes the kernel
// read or write _IOC_SIZE(request) bytes at the pointer: it takes only a view
// at least that long, never a number, which would be an address. Requests
// without a direction (_IO) take numbers, and views for the traditional ones
// that use a pointer anyway (FIONREAD).
#include <linux/ioctl.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <string>

#include "addon.h"
#include "errno_error.h"

namespace kmodlab {

namespace {

struct View {
  uint8_t* data;
  size_t length;
};

bool AsView(Napi::Value value, View* view) {
  if (value.IsTypedArray()) {
    Napi::TypedArray array = value.As<Napi::TypedArray>();
    view->data = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
    view->length = array.ByteLength();
    return true;
  }
  if (value.IsDataView()) {
    Napi::DataView data_view = value.As<Napi::DataView>();
    view->data = static_cast<uint8_t*>(data_view.Data());
    view->length = data_view.ByteLength();
    return true;
  }
  return false;
}

}  // namespace

static Napi::Value Ioctl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0, "fd");
  int64_t request = ArgInt64(info, 1, "request");
  if (request < 0 || request > UINT32_MAX)
    throw OutOfRange(env, "The value of \"request\" is out of range. It must be a 32-bit unsigned integer.");
  std::string path = ArgOptionalPath(info, 3);
  unsigned int dir = _IOC_DIR(static_cast<unsigned int>(request));
  size_t size = _IOC_SIZE(static_cast<unsigned int>(request));

  unsigned long arg = 0;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    Napi::Value value = info[2];
    View view;
    if (AsView(value, &view)) {
      if (dir != _IOC_NONE && view.length < size)
        throw OutOfRange(env, "The \"arg\" argument is too small for this request: it must be at least " +
                                  std::to_string(size) + " bytes. Received " +
                                  std::to_string(view.length));
      arg = reinterpret_cast<unsigned long>(view.data);
    } else if (dir != _IOC_NONE) {
      throw InvalidArgType(env, "The \"arg\" argument must be a Buffer, TypedArray or DataView of at least " +
                                    std::to_string(size) + " bytes for this request");
    } else if (value.IsBigInt()) {
      bool lossless = false;
      arg = value.As<Napi::BigInt>().Uint64Value(&lossless);
      if (!lossless)
        throw OutOfRange(env, "The value of \"arg\" is out of range. It must fit in 64 bits.");
    } else {
      arg = static_cast<unsigned long>(ArgInt64(info, 2, "arg"));
    }
  } else if (dir != _IOC_NONE) {
    throw InvalidArgType(env, "The \"arg\" argument must be a Buffer, TypedArray or DataView of at least " +
                                  std::to_string(size) + " bytes for this request");
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
