// The consumer side of fastnet's mmap ring (uapi/fastnet.h): take every
// published slot up to a limit, then hand them all back with one
// store-release of the consumer index. No system call, no JavaScript call
// per frame.
#include "uapi/fastnet.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "addon.h"
#include "errno_error.h"
#include "fastnet.h"

namespace kmodlab {
namespace fastnet {
namespace {

static_assert(offsetof(struct fastnet_ring_header, producer) % 64 == 0,
              "producer has its own cache line");
static_assert(offsetof(struct fastnet_ring_header, consumer) % 64 == 0,
              "consumer has its own cache line");

// Any JavaScript code can write to the zone (it is mapped writable), so every
// shared field is read once into a local copy, and bounds are checked on the
// copy without sums that could wrap.
template <typename T>
T Once(const T& shared) {
  return __atomic_load_n(&shared, __ATOMIC_RELAXED);
}

// Is [offset, offset + length) inside a zone of size bytes?
bool Inside(uint64_t offset, uint64_t length, uint64_t size) {
  return offset <= size && length <= size - offset;
}

// A mapped zone, checked against its own header.
struct Ring {
  uint8_t* base;
  size_t size;
  struct fastnet_ring_header* hdr;
  const struct fastnet_slot* desc;
  uint32_t mask;
};

// The zone is the Buffer over a mapping of the session (Mapping.buffer).
Ring GetRing(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray())
    throw InvalidArgType(env, "The \"zone\" argument must be the Buffer of a mapped fastnet ring");
  Napi::TypedArray view = info[0].As<Napi::TypedArray>();
  Ring ring;
  ring.size = view.ByteLength();
  if (ring.size == 0)
    throw FastnetError(env, "ERR_INVALID_STATE", "Invalid state: The ring's mapping is closed");
  ring.base = static_cast<uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
  ring.hdr = reinterpret_cast<struct fastnet_ring_header*>(ring.base);
  // The header is aligned like the zone (a page); descriptors need 8 bytes.
  bool sane = ring.size >= sizeof(*ring.hdr) &&
              reinterpret_cast<uintptr_t>(ring.base) % alignof(struct fastnet_ring_header) == 0;
  uint32_t slots = 0;
  uint64_t desc_offset = 0;
  if (sane) {
    const struct fastnet_ring_header& h = *ring.hdr;
    slots = Once(h.slots);
    uint32_t slot_size = Once(h.slot_size);
    desc_offset = Once(h.desc_offset);
    uint64_t data_offset = Once(h.data_offset);
    sane = Once(h.magic) == FASTNET_RING_MAGIC && Once(h.version) == FASTNET_RING_VERSION &&
           Once(h.zone_size) == ring.size && slots != 0 && (slots & (slots - 1)) == 0 &&
           desc_offset % alignof(struct fastnet_slot) == 0 &&
           Inside(desc_offset, static_cast<uint64_t>(slots) * sizeof(struct fastnet_slot), ring.size) &&
           Inside(data_offset, static_cast<uint64_t>(slots) * slot_size, ring.size);
  }
  if (!sane)
    throw FastnetError(env, "ERR_FASTNET_RING", "Not a fastnet ring zone (bad header)");
  ring.desc = reinterpret_cast<const struct fastnet_slot*>(ring.base + desc_offset);
  ring.mask = slots - 1;
  return ring;
}

// How many slots are ours to take, at most max; sets *consumer.
uint32_t Ready(Napi::Env env, const Ring& ring, uint32_t max, uint32_t* consumer) {
  // Only we write consumer; the kernel writes producer after filling slots.
  *consumer = __atomic_load_n(&ring.hdr->consumer, __ATOMIC_RELAXED);
  uint32_t producer = __atomic_load_n(&ring.hdr->producer, __ATOMIC_ACQUIRE);
  uint32_t ready = producer - *consumer;
  if (ready > ring.mask + 1)
    throw FastnetError(env, "ERR_FASTNET_RING", "Ring indices are inconsistent (consumer ahead of producer)");
  return std::min(ready, max);
}

// A copy of the slot's descriptor, checked: a frame never lies outside the zone.
struct fastnet_slot Slot(Napi::Env env, const Ring& ring, uint32_t index) {
  const struct fastnet_slot& shared = ring.desc[index & ring.mask];
  struct fastnet_slot slot = {};
  slot.timestamp_ns = Once(shared.timestamp_ns);
  slot.data_offset = Once(shared.data_offset);
  slot.len = Once(shared.len);
  slot.orig_len = Once(shared.orig_len);
  slot.flags = Once(shared.flags);
  if (!Inside(slot.data_offset, slot.len, ring.size) || slot.len > slot.orig_len)
    throw FastnetError(env, "ERR_FASTNET_RING", "A ring descriptor points outside the zone");
  return slot;
}

// Done with every slot before it: the kernel may now reuse them.
void HandBack(const Ring& ring, uint32_t consumer) {
  __atomic_store_n(&ring.hdr->consumer, consumer, __ATOMIC_RELEASE);
}

// ringCount(zone, max, countIPv4) -> counts. The benchmarks' loop.
Napi::Value RingCount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Ring ring = GetRing(info);
  uint32_t max = ArgMaxBatch(info, 1);
  bool count_ipv4 = info.Length() > 2 && info[2].ToBoolean().Value();
  uint32_t consumer;
  uint32_t n = Ready(env, ring, max, &consumer);
  uint64_t bytes = 0, ipv4 = 0, truncated = 0;
  for (uint32_t i = 0; i < n; i++) {
    struct fastnet_slot slot = Slot(env, ring, consumer + i);
    bytes += slot.len;
    if (slot.flags & FASTNET_PKT_TRUNC)
      truncated++;
    if (count_ipv4 && IsIPv4(ring.base + slot.data_offset, slot.len))
      ipv4++;
  }
  HandBack(ring, consumer + n);
  return Counts(env, n, bytes, ipv4, truncated);
}

// ringCopy(zone, max) -> {count, bytes, data, meta}: the frames copied out
// into one Buffer sized to fit, so the slots can go back at once.
Napi::Value RingCopy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Ring ring = GetRing(info);
  uint32_t max = ArgMaxBatch(info, 1);
  uint32_t consumer;
  uint32_t n = Ready(env, ring, max, &consumer);

  // Descriptors are copied once, then sized and copied from the copies.
  std::vector<struct fastnet_slot> slots;
  slots.reserve(n);
  uint64_t total = 0;
  for (uint32_t i = 0; i < n; i++) {
    slots.push_back(Slot(env, ring, consumer + i));
    total += slots.back().len;
  }

  Napi::Buffer<uint8_t> data = Napi::Buffer<uint8_t>::New(env, total);
  Napi::Uint32Array meta = Napi::Uint32Array::New(env, static_cast<size_t>(n) * kMetaStride);
  uint64_t offset = 0;
  for (uint32_t i = 0; i < n; i++) {
    const struct fastnet_slot& slot = slots[i];
    std::memcpy(data.Data() + offset, ring.base + slot.data_offset, slot.len);
    uint32_t* m = meta.Data() + static_cast<size_t>(i) * kMetaStride;
    m[kMetaOffset] = static_cast<uint32_t>(offset);
    m[kMetaLength] = slot.len;
    m[kMetaOrigLength] = slot.orig_len;
    m[kMetaFlags] = slot.flags;
    m[kMetaTimestampLo] = static_cast<uint32_t>(slot.timestamp_ns);
    m[kMetaTimestampHi] = static_cast<uint32_t>(slot.timestamp_ns >> 32);
    offset += slot.len;
  }
  HandBack(ring, consumer + n);

  Napi::Object batch = Napi::Object::New(env);
  batch.Set("count", Napi::Number::New(env, n));
  batch.Set("bytes", Napi::Number::New(env, static_cast<double>(offset)));
  batch.Set("data", data);
  batch.Set("meta", meta);
  return batch;
}

// ringState(zone) -> {producer, consumer, pending}: for progress displays.
Napi::Value RingState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Ring ring = GetRing(info);
  uint32_t producer = __atomic_load_n(&ring.hdr->producer, __ATOMIC_ACQUIRE);
  uint32_t consumer = __atomic_load_n(&ring.hdr->consumer, __ATOMIC_RELAXED);
  Napi::Object state = Napi::Object::New(env);
  state.Set("producer", Napi::Number::New(env, producer));
  state.Set("consumer", Napi::Number::New(env, consumer));
  state.Set("pending", Napi::Number::New(env, producer - consumer));
  return state;
}

}  // namespace
}  // namespace fastnet

void InitFastnetRing(Napi::Env env, Napi::Object exports) {
  Napi::Object f = exports.Get("fastnet").As<Napi::Object>();
  f.Set("ringCount", Napi::Function::New(env, fastnet::RingCount, "ringCount"));
  f.Set("ringCopy", Napi::Function::New(env, fastnet::RingCopy, "ringCopy"));
  f.Set("ringState", Napi::Function::New(env, fastnet::RingState, "ringState"));
}

}  // namespace kmodlab
