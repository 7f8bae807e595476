// fastnet from JavaScript: the UAPI's constants, and the read() mode's
// batches, taken in one native call without a JavaScript call per frame.
#include "uapi/fastnet.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <vector>

#include "addon.h"
#include "errno_error.h"
#include "fastnet.h"

namespace kmodlab {
namespace fastnet {

Napi::Object Counts(Napi::Env env, uint64_t packets, uint64_t bytes,
                    uint64_t ipv4, uint64_t truncated) {
  Napi::Object counts = Napi::Object::New(env);
  counts.Set("packets", Napi::Number::New(env, static_cast<double>(packets)));
  counts.Set("bytes", Napi::Number::New(env, static_cast<double>(bytes)));
  counts.Set("ipv4", Napi::Number::New(env, static_cast<double>(ipv4)));
  counts.Set("truncated", Napi::Number::New(env, static_cast<double>(truncated)));
  return counts;
}

Napi::Error FastnetError(Napi::Env env, const char* code,
                         const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

uint32_t ArgMaxBatch(const Napi::CallbackInfo& info, size_t index) {
  int64_t max = ArgInt64(info, index, "max");
  if (max < 1 || max > FASTNET_RING_SLOTS_MAX)
    throw OutOfRange(info.Env(), "The value of \"max\" is out of range. It must be >= 1 && <= " +
                                     std::to_string(FASTNET_RING_SLOTS_MAX) + ".");
  return static_cast<uint32_t>(max);
}

namespace {

struct ReadArgs {
  int fd;
  uint32_t max;
  uint32_t snap;
  bool wait;
  std::string path;
};

// (fd, max, snapLength, wait, ...); the path that labels errors at path_index.
ReadArgs ParseReadArgs(const Napi::CallbackInfo& info, size_t path_index) {
  Napi::Env env = info.Env();
  ReadArgs args;
  args.fd = ArgInt32(info, 0, "fd");
  args.max = ArgMaxBatch(info, 1);
  int64_t snap = ArgInt64(info, 2, "snapLength");
  if (snap < 1 || snap > (1 << 20))
    throw OutOfRange(env, "The value of \"snapLength\" is out of range. It must be >= 1 && <= 1048576.");
  args.snap = static_cast<uint32_t>(snap);
  args.wait = info.Length() > 3 && info[3].ToBoolean().Value();
  args.path = ArgOptionalPath(info, path_index);
  return args;
}

// One frame and its descriptor in one call (the session is bound with
// FASTNET_BIND_HEADER): the descriptor into *slot, up to size bytes of the
// frame into buf. The first read of a batch may wait (if the caller allows
// it and the descriptor blocks); the others never do (RWF_NOWAIT), so a
// batch is "what is queued", like recvmmsg(MSG_WAITFORONE). Returns the
// frame's bytes read, or -1 with errno.
ssize_t ReadFrame(int fd, struct fastnet_slot* slot, uint8_t* buf, size_t size, bool may_wait) {
  struct iovec iov[2] = {{slot, sizeof(*slot)}, {buf, size}};
  ssize_t n;
  do {
    n = may_wait ? readv(fd, iov, 2) : preadv2(fd, iov, 2, -1, RWF_NOWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    return n;
  // A session bound without the header, or a descriptor that disagrees.
  if (static_cast<size_t>(n) < sizeof(*slot) || slot->data_offset != sizeof(*slot) ||
      slot->len != n - sizeof(*slot)) {
    errno = EPROTO;
    return -1;
  }
  return n - sizeof(*slot);
}

// readBatch(fd, max, snapLength, wait, path?) -> {count, bytes, data, meta}:
// up to max frames, each cut to snapLength bytes, copied into one Buffer.
Napi::Value ReadBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReadArgs args = ParseReadArgs(info, 4);
  // Each frame is read into scratch, then only its bytes are kept.
  static thread_local std::vector<uint8_t> scratch;
  if (scratch.size() < args.snap)
    scratch.resize(args.snap);
  std::vector<uint8_t> data;
  std::vector<uint32_t> meta;
  uint32_t count = 0;
  uint64_t bytes = 0;

  // An error ends the batch; it is thrown only if the batch is empty, so
  // frames already taken are never lost (the next call throws it).
  while (count < args.max) {
    struct fastnet_slot slot;
    ssize_t n = ReadFrame(args.fd, &slot, scratch.data(), args.snap,
                          args.wait && count == 0);
    if (n < 0) {
      if (errno == EAGAIN || count > 0)
        break;
      ThrowErrno(env, "read", args.path.c_str());
    }
    size_t used = data.size();
    data.insert(data.end(), scratch.begin(), scratch.begin() + n);
    meta.insert(meta.end(), {static_cast<uint32_t>(used), static_cast<uint32_t>(n),
                             slot.orig_len, slot.flags,
                             static_cast<uint32_t>(slot.timestamp_ns),
                             static_cast<uint32_t>(slot.timestamp_ns >> 32)});
    bytes += n;
    count++;
  }

  Napi::Object batch = Napi::Object::New(env);
  batch.Set("count", Napi::Number::New(env, count));
  batch.Set("bytes", Napi::Number::New(env, static_cast<double>(bytes)));
  batch.Set("data", Napi::Buffer<uint8_t>::Copy(env, data.data(), data.size()));
  Napi::Uint32Array meta_array = Napi::Uint32Array::New(env, meta.size());
  std::copy(meta.begin(), meta.end(), meta_array.Data());
  batch.Set("meta", meta_array);
  return batch;
}

// readCount(fd, max, snapLength, wait, countIPv4, path?) -> counts: the
// benchmarks' loop: frames are read and looked at, never copied to JS.
Napi::Value ReadCount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReadArgs args = ParseReadArgs(info, 5);
  bool count_ipv4 = info.Length() > 4 && info[4].ToBoolean().Value();
  static thread_local std::vector<uint8_t> scratch;
  if (scratch.size() < args.snap)
    scratch.resize(args.snap);
  uint64_t packets = 0, bytes = 0, ipv4 = 0, truncated = 0;

  while (packets < args.max) {
    struct fastnet_slot slot;
    ssize_t n = ReadFrame(args.fd, &slot, scratch.data(), args.snap,
                          args.wait && packets == 0);
    if (n < 0) {
      if (errno == EAGAIN || packets > 0)
        break;
      ThrowErrno(env, "read", args.path.c_str());
    }
    if (slot.flags & FASTNET_PKT_TRUNC)
      truncated++;
    if (count_ipv4 && IsIPv4(scratch.data(), static_cast<uint32_t>(n)))
      ipv4++;
    bytes += n;
    packets++;
  }
  return Counts(env, packets, bytes, ipv4, truncated);
}

// countIPv4(data, meta, count) -> frames whose EtherType is 0x0800.
Napi::Value CountIPv4(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    throw InvalidArgType(env, "countIPv4 expects (data: Buffer, meta: Uint32Array, count)");
  Napi::Buffer<uint8_t> data = info[0].As<Napi::Buffer<uint8_t>>();
  Napi::Uint32Array meta = info[1].As<Napi::Uint32Array>();
  int64_t count = ArgInt64(info, 2, "count");
  if (count < 0 || static_cast<uint64_t>(count) * kMetaStride > meta.ElementLength())
    throw OutOfRange(env, "The value of \"count\" is out of range. It must fit the metadata.");

  uint64_t ipv4 = 0;
  for (int64_t i = 0; i < count; i++) {
    const uint32_t* m = meta.Data() + i * kMetaStride;
    uint64_t end = static_cast<uint64_t>(m[kMetaOffset]) + m[kMetaLength];
    if (end > data.Length())
      throw OutOfRange(env, "countIPv4: a frame lies outside the data");
    if (IsIPv4(data.Data() + m[kMetaOffset], m[kMetaLength]))
      ipv4++;
  }
  return Napi::Number::New(env, static_cast<double>(ipv4));
}

}  // namespace
}  // namespace fastnet

void InitFastnet(Napi::Env env, Napi::Object exports) {
  using namespace fastnet;
  Napi::Object f = Napi::Object::New(env);
  auto set = [&](const char* name, double value) { f.Set(name, Napi::Number::New(env, value)); };

  set("MODE_NORMAL", FASTNET_MODE_NORMAL);
  set("MODE_DROP", FASTNET_MODE_DROP);
  set("MODE_READ", FASTNET_MODE_READ);
  set("MODE_RING", FASTNET_MODE_RING);
  set("MODE_ZEROCOPY", FASTNET_MODE_ZEROCOPY);
  set("BIND_PASS", FASTNET_BIND_PASS);
  set("BIND_BATCH", FASTNET_BIND_BATCH);
  set("BIND_HEADER", FASTNET_BIND_HEADER);
  set("IFNAMSIZ", FASTNET_IFNAMSIZ);
  set("RING_SLOTS_MIN", FASTNET_RING_SLOTS_MIN);
  set("RING_SLOTS_MAX", FASTNET_RING_SLOTS_MAX);
  set("RING_SLOTS_DEFAULT", FASTNET_RING_SLOTS_DEFAULT);
  set("SLOT_SIZE_MIN", FASTNET_SLOT_SIZE_MIN);
  set("SLOT_SIZE_MAX", FASTNET_SLOT_SIZE_MAX);
  set("SLOT_SIZE_DEFAULT", FASTNET_SLOT_SIZE_DEFAULT);
  set("RING_DATA_MAX", FASTNET_RING_DATA_MAX);
  set("QUEUE_LEN_MAX", FASTNET_QUEUE_LEN_MAX);
  set("QUEUE_LEN_DEFAULT", FASTNET_QUEUE_LEN_DEFAULT);
  set("QUEUE_BYTES_MAX", FASTNET_QUEUE_BYTES_MAX);
  set("BATCH_USECS_DEFAULT", FASTNET_BATCH_USECS_DEFAULT);
  set("BATCH_USECS_MAX", FASTNET_BATCH_USECS_MAX);
  set("SLOT_READY", FASTNET_SLOT_READY);
  set("PKT_TRUNC", FASTNET_PKT_TRUNC);
  set("RING_MAGIC", FASTNET_RING_MAGIC);
  set("RING_VERSION", FASTNET_RING_VERSION);

  set("BIND", FASTNET_BIND);
  set("STATS", FASTNET_STATS);
  set("RING_INFO", FASTNET_RING_INFO);
  set("READ_INFO", FASTNET_READ_INFO);

  // Layouts the TypeScript side encodes or decodes itself.
  set("BIND_SIZE", sizeof(struct fastnet_bind));
  set("BIND_MODE_OFFSET", offsetof(struct fastnet_bind, mode));
  set("BIND_FLAGS_OFFSET", offsetof(struct fastnet_bind, flags));
  set("BIND_SLOTS_OFFSET", offsetof(struct fastnet_bind, slots));
  set("BIND_SLOT_SIZE_OFFSET", offsetof(struct fastnet_bind, slot_size));
  set("BIND_QUEUE_LEN_OFFSET", offsetof(struct fastnet_bind, queue_len));
  set("BIND_BATCH_USECS_OFFSET", offsetof(struct fastnet_bind, batch_usecs));
  set("BIND_RESERVED_OFFSET", offsetof(struct fastnet_bind, reserved));
  set("STATS_SIZE", sizeof(struct fastnet_stats));
  set("SLOT_DESC_SIZE", sizeof(struct fastnet_slot));
  set("RING_INFO_SIZE", sizeof(struct fastnet_ring_info));
  set("RING_HEADER_SIZE", sizeof(struct fastnet_ring_header));
  set("RING_PRODUCER_OFFSET", offsetof(struct fastnet_ring_header, producer));
  set("RING_CONSUMER_OFFSET", offsetof(struct fastnet_ring_header, consumer));

  set("META_STRIDE", kMetaStride);
  set("POLLIN", POLLIN);
  set("POLLERR", POLLERR);
  set("POLLHUP", POLLHUP);
  set("POLLNVAL", POLLNVAL);

  f.Set("readBatch", Napi::Function::New(env, ReadBatch, "readBatch"));
  f.Set("readCount", Napi::Function::New(env, ReadCount, "readCount"));
  f.Set("countIPv4", Napi::Function::New(env, CountIPv4, "countIPv4"));
  exports.Set("fastnet", f);
}

}  // namespace kmodlab
