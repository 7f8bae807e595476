// Shared by native/fastnet*.cc: how a batch of frames is handed to
// JavaScript (the per-frame work every method does is in frame.h).
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

#include "frame.h"

namespace kmodlab {
namespace fastnet {

// A batch's metadata: kMetaStride uint32 per frame, in this order.
enum MetaField : uint32_t {
  kMetaOffset,       // where the frame starts in the batch's data
  kMetaLength,       // bytes stored
  kMetaOrigLength,   // the frame's length on the wire
  kMetaFlags,        // FASTNET_PKT_*
  kMetaTimestampLo,  // CLOCK_REALTIME ns, low and high 32 bits
  kMetaTimestampHi,
  kMetaStride,
};

// {packets, bytes, ipv4, truncated}: what the no-copy loops return.
Napi::Object Counts(Napi::Env env, uint64_t packets, uint64_t bytes,
                    uint64_t ipv4, uint64_t truncated);

// A batch's frame limit argument: 1 to FASTNET_RING_SLOTS_MAX (a whole ring).
uint32_t ArgMaxBatch(const Napi::CallbackInfo& info, size_t index);

// An Error with a code of ours (ERR_FASTNET_*), for states no errno names.
Napi::Error FastnetError(Napi::Env env, const char* code,
                         const std::string& message);

}  // namespace fastnet
}  // namespace kmodlab
