// The kmodlab addon: the syscalls JavaScript cannot make (ioctl, mmap) and the
// per-packet loops that must not cross into JavaScript.
#include "addon.h"

namespace kmodlab {

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitIoctl(env, exports);
  InitMapping(env, exports);
  InitKernelModule(env, exports);
  InitKshram(env, exports);
  InitFastnet(env, exports);
  InitFastnetRing(env, exports);
  InitFastnetWait(env, exports);
  InitFastnetFilter(env, exports);
  InitCapture(env, exports);
  InitPcapFile(env, exports);
  return exports;
}

NODE_API_MODULE(kmodlab, Init)

}  // namespace kmodlab
