// mmap(fd, length, offset, writable, path?) -> ArrayBuffer over the mapping.
// munmap(arrayBuffer) -> true if this call released it, false if it was
// already released.
//
// The mapping is released exactly once: by munmap(), which first detaches the
// ArrayBuffer so every view of it becomes empty instead of dangling, or by the
// ArrayBuffer's finalizer when it is collected without munmap(). A registry
// keyed by a never-reused id decides which of the two gets there first.
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "addon.h"
#include "errno_error.h"

namespace kmodlab {
namespace {

struct Region {
  void* addr;
  size_t length;
};

std::mutex registry_lock;
std::unordered_map<uint64_t, Region> registry;
uint64_t next_id = 1;

uint64_t NewId() {
  std::lock_guard<std::mutex> guard(registry_lock);
  return next_id++;
}

void Register(uint64_t id, Region region) {
  std::lock_guard<std::mutex> guard(registry_lock);
  registry.emplace(id, region);
}

// The id of the region at this address, 0 if none.
uint64_t Find(void* addr) {
  std::lock_guard<std::mutex> guard(registry_lock);
  for (const auto& entry : registry) {
    if (entry.second.addr == addr)
      return entry.first;
  }
  return 0;
}

// Removes and returns the region with this id.
bool Take(uint64_t id, Region* out) {
  std::lock_guard<std::mutex> guard(registry_lock);
  auto it = registry.find(id);
  if (it == registry.end())
    return false;
  *out = it->second;
  registry.erase(it);
  return true;
}

void Finalize(Napi::Env, void*, void* hint) {
  Region region;
  if (Take(reinterpret_cast<uintptr_t>(hint), &region))
    munmap(region.addr, region.length);
}

Napi::Value Mmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0, "fd");
  int64_t length = ArgInt64(info, 1, "length");
  int64_t offset = ArgInt64(info, 2, "offset");
  bool writable = info.Length() > 3 && info[3].ToBoolean().Value();
  std::string path = ArgOptionalPath(info, 4);
  if (length <= 0 || offset < 0)
    throw ErrnoError(env, EINVAL, "mmap", path.c_str());

  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* addr = mmap(nullptr, static_cast<size_t>(length), prot, MAP_SHARED, fd,
                    static_cast<off_t>(offset));
  if (addr == MAP_FAILED)
    ThrowErrno(env, "mmap", path.c_str());

  // Registered only once the ArrayBuffer exists: if New() throws, the
  // mapping is ours alone to release.
  uint64_t id = NewId();
  Napi::ArrayBuffer buffer;
  try {
    buffer = Napi::ArrayBuffer::New(env, addr, static_cast<size_t>(length), Finalize,
                                    reinterpret_cast<void*>(static_cast<uintptr_t>(id)));
  } catch (...) {
    munmap(addr, static_cast<size_t>(length));
    throw;
  }
  Register(id, {addr, static_cast<size_t>(length)});
  return buffer;
}

Napi::Value Munmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer())
    throw InvalidArgType(env, "munmap expects the ArrayBuffer that mmap returned");
  Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
  if (buffer.IsDetached())
    return Napi::Boolean::New(env, false);

  uint64_t id = Find(buffer.Data());
  if (id == 0)
    throw InvalidArgType(env, "munmap: this ArrayBuffer is not a mapping");
  // Detach first: if it throws, the mapping stays registered for the
  // finalizer instead of being forgotten while still mapped.
  buffer.Detach();
  Region region;
  if (!Take(id, &region))
    return Napi::Boolean::New(env, false);
  if (munmap(region.addr, region.length) < 0)
    ThrowErrno(env, "munmap");
  return Napi::Boolean::New(env, true);
}

}  // namespace

void InitMapping(Napi::Env env, Napi::Object exports) {
  exports.Set("mmap", Napi::Function::New(env, Mmap, "mmap"));
  exports.Set("munmap", Napi::Function::New(env, Munmap, "munmap"));
  exports.Set("pageSize", Napi::Number::New(env, sysconf(_SC_PAGESIZE)));
}

}  // namespace kmodlab
