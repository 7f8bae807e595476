// The per-frame work every capture method does, fastnet's and the others'
// (native/fastnet*.cc, native/capture*.cc), written once.
#pragma once

#include <cstdint>

namespace kmodlab {

// The benchmarks' per-frame work: is the EtherType (bytes 12-13) IPv4?
inline bool IsIPv4(const uint8_t* frame, uint32_t length) {
  return length >= 14 && frame[12] == 0x08 && frame[13] == 0x00;
}

}  // namespace kmodlab
