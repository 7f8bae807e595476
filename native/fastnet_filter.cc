// fastnet's filters from JavaScript: FASTNET_SET_FILTER (a struct sock_fprog
// holds a pointer, which JavaScript cannot make), and the module's own
// check of a program (kmod/fastnet/fastnet_bpf.c, built here in user space)
// so that the library can say why the kernel refused one.
#include "uapi/fastnet.h"

#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "addon.h"
#include "errno_error.h"

extern "C" {
#include "fastnet_bpf.h"
}

namespace kmodlab {
namespace fastnet {
namespace {

// A program argument: a view of whole struct sock_filter records, at most
// a sock_fprog's 65535 of them.
std::vector<struct sock_filter> ArgProgram(const Napi::CallbackInfo& info, size_t index) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsTypedArray())
    throw InvalidArgType(env, "The \"program\" argument must be an instance of Uint8Array");
  Napi::TypedArray array = info[index].As<Napi::TypedArray>();
  size_t bytes = array.ByteLength();
  if (bytes % sizeof(struct sock_filter) != 0 || bytes / sizeof(struct sock_filter) > 0xffff)
    throw OutOfRange(env, "The \"program\" argument's length is out of range. It must be a multiple of " +
                              std::to_string(sizeof(struct sock_filter)) + " bytes, at most 65535 instructions.");
  std::vector<struct sock_filter> program(bytes / sizeof(struct sock_filter));
  if (bytes)
    std::memcpy(program.data(), static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset(), bytes);
  return program;
}

// setFilter(fd, program | null, path?): FASTNET_SET_FILTER; null detaches.
Napi::Value SetFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0, "fd");
  std::vector<struct sock_filter> program;
  if (info.Length() > 1 && !info[1].IsNull() && !info[1].IsUndefined())
    program = ArgProgram(info, 1);
  std::string path = ArgOptionalPath(info, 2);
  struct sock_fprog fprog = {static_cast<unsigned short>(program.size()),
                             program.empty() ? nullptr : program.data()};
  int ret;
  do {
    ret = ioctl(fd, FASTNET_SET_FILTER, &fprog);
  } while (ret < 0 && errno == EINTR);
  if (ret < 0)
    ThrowErrno(env, "ioctl", path.c_str());
  return env.Undefined();
}

// checkProgram(program, zerocopy) -> null, or {reason, at}: the module's own
// check, with the kernel's rules (zerocopy false: the program runs on skbs)
// or zero-copy's (no load of skb data).
Napi::Value CheckProgram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<struct sock_filter> program = ArgProgram(info, 0);
  bool zerocopy = info.Length() > 1 && info[1].ToBoolean().Value();
  const char* why = nullptr;
  unsigned int at = 0;
  int rc = zerocopy ? fastnet_bpf_check(program.data(), program.size(), &why, &at)
                    : fastnet_bpf_check_skb(program.data(), program.size(), &why, &at);
  if (rc == 0)
    return env.Null();
  Napi::Object result = Napi::Object::New(env);
  result.Set("reason", Napi::String::New(env, why != nullptr ? why : strerror(-rc)));
  result.Set("at", Napi::Number::New(env, at));
  return result;
}

}  // namespace
}  // namespace fastnet

void InitFastnetFilter(Napi::Env env, Napi::Object exports) {
  Napi::Object f = exports.Get("fastnet").As<Napi::Object>();
  f.Set("SET_FILTER", Napi::Number::New(env, FASTNET_SET_FILTER));
  f.Set("BPF_MAXINSNS", Napi::Number::New(env, BPF_MAXINSNS));
  f.Set("SOCK_FILTER_SIZE", Napi::Number::New(env, sizeof(struct sock_filter)));
  f.Set("setFilter", Napi::Function::New(env, fastnet::SetFilter, "setFilter"));
  f.Set("checkProgram", Napi::Function::New(env, fastnet::CheckProgram, "checkProgram"));
}

}  // namespace kmodlab
