// kshram's ioctl numbers and limits, straight from the UAPI header.
#include "uapi/kshram.h"

#include "addon.h"

namespace kmodlab {

void InitKshram(Napi::Env env, Napi::Object exports) {
  Napi::Object kshram = Napi::Object::New(env);
  kshram.Set("SLOTS", Napi::Number::New(env, KSHRAM_SLOTS));
  kshram.Set("DEFAULT_SIZE", Napi::Number::New(env, KSHRAM_DEFAULT_SIZE));
  kshram.Set("MAX_SIZE", Napi::Number::New(env, KSHRAM_MAX_SIZE));
  kshram.Set("GETSLOTS", Napi::Number::New(env, KSHRAM_GETSLOTS));
  kshram.Set("GETSIZE", Napi::Number::New(env, KSHRAM_GETSIZE));
  kshram.Set("SETSIZE", Napi::Number::New(env, KSHRAM_SETSIZE));
  exports.Set("kshram", kshram);
}

}  // namespace kmodlab
