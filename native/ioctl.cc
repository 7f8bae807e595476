// ioctl(fd, request, view, path?) and ioctlValue(fd, request, value?, path?)
// -> the call's non-negative result.
//
// Two calls, because the kernel cannot tell an address from an integer: a
// number handed to ioctl() as "the argument" would be dereferenced by every
// request that takes a pointer, whatever its encoding says (FIONREAD has no
// size bits and writes 4 bytes at its argument). So ioctl() passes only a
// pointer to a view's bytes, and a caller who means an integer says so with
// ioctlValue(). A request that encodes a direction (_IOR, _IOW, _IOWR) makes
// the kernel read or write _IOC_SIZE(request) bytes at its argument: ioctl()
// wants a view at least that long, and ioctlValue() refuses it.
#include <linux/ioctl.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstdio>
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

struct Call {
  int fd;
  unsigned int request;
  std::string path;
};

// (fd, request, arg, path?): the arguments both calls share.
Call ParseCall(const Napi::CallbackInfo& info) {
  Call call;
  call.fd = ArgInt32(info, 0, "fd");
  int64_t request = ArgInt64(info, 1, "request");
  if (request < 0 || request > UINT32_MAX)
    throw OutOfRange(info.Env(), "The value of \"request\" is out of range. It must be a 32-bit unsigned integer.");
  call.request = static_cast<unsigned int>(request);
  call.path = ArgOptionalPath(info, 3);
  return call;
}

Napi::Value Run(Napi::Env env, const Call& call, unsigned long arg) {
  int ret;
  do {
    ret = ioctl(call.fd, static_cast<unsigned long>(call.request), arg);
  } while (ret < 0 && errno == EINTR);
  if (ret < 0)
    ThrowErrno(env, "ioctl", call.path.c_str());
  return Napi::Number::New(env, ret);
}

// ioctl(fd, request, view, path?): a pointer to the view's bytes.
Napi::Value Ioctl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Call call = ParseCall(info);
  size_t size = _IOC_DIR(call.request) == _IOC_NONE ? 0 : _IOC_SIZE(call.request);
  View view;
  if (info.Length() < 3 || !AsView(info[2], &view)) {
    std::string need = size ? " of at least " + std::to_string(size) + " bytes for this request" : "";
    throw InvalidArgType(env, "The \"arg\" argument must be a Buffer, TypedArray or DataView" + need +
                                  " (its address is passed): for an integer argument use ioctlValue()");
  }
  if (view.length < size)
    throw OutOfRange(env, "The \"arg\" argument is too small for this request: it must be at least " +
                              std::to_string(size) + " bytes. Received " + std::to_string(view.length));
  return Run(env, call, reinterpret_cast<unsigned long>(view.data));
}

// ioctlValue(fd, request, value = 0, path?): the integer itself.
Napi::Value IoctlValue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Call call = ParseCall(info);
  if (_IOC_DIR(call.request) != _IOC_NONE) {
    char hex[16];
    std::snprintf(hex, sizeof(hex), "0x%x", call.request);
    throw InvalidArgValue(env, std::string("The \"request\" argument ") + hex + " reads or writes " +
                                   std::to_string(_IOC_SIZE(call.request)) +
                                   " bytes at its argument: pass a Buffer to ioctl(), not a value");
  }
  unsigned long value = 0;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    if (info[2].IsBigInt()) {
      bool lossless = false;
      value = info[2].As<Napi::BigInt>().Uint64Value(&lossless);
      if (!lossless)
        throw OutOfRange(env, "The value of \"value\" is out of range. It must fit in 64 bits.");
    } else if (info[2].IsNumber()) {
      value = static_cast<unsigned long>(ArgInt64(info, 2, "value"));
    } else {
      throw InvalidArgType(env, "The \"value\" argument must be of type number or bigint: "
                                "to pass a pointer to bytes use ioctl()");
    }
  }
  return Run(env, call, value);
}

}  // namespace

void InitIoctl(Napi::Env env, Napi::Object exports) {
  exports.Set("ioctl", Napi::Function::New(env, Ioctl, "ioctl"));
  exports.Set("ioctlValue", Napi::Function::New(env, IoctlValue, "ioctlValue"));
}

}  // namespace kmodlab
