// Capture methods over plain Linux interfaces (AF_PACKET sockets, libpcap,
// AF_XDP): each is a Source with the same hot loops, driven by one JS class
// (native/capture.cc, lib/capture.ts). Every loop does the same work per
// frame as fastnet's: read bytes 12-13 and count IPv4 frames, in place.
#pragma once

#include <napi.h>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "frame.h"

namespace kmodlab {
namespace capture {

struct Options {
  std::string device;
  uint32_t snap_length = 65535;
  uint32_t buffer_size = 0;   // bytes; 0: the method's default
  uint32_t ring_size = 0;     // frames; 0: the method's default
  uint32_t frame_size = 0;    // bytes per ring frame; 0: default
  uint32_t batch_size = 256;  // frames per call, at most
  uint32_t timeout_ms = 0;    // pcap: the TPACKET_V3 block timeout
  std::string filter;         // tcpdump syntax; empty: every frame
  // Or a compiled program (struct sock_filter records), if not empty.
  std::vector<uint8_t> filter_program;
};

// What a hot loop found: frames, IPv4 frames, bytes on the wire.
struct Counts {
  uint64_t frames = 0;
  uint64_t ipv4 = 0;
  uint64_t bytes = 0;
};

// Frames copied out for JavaScript, in the layout of fastnet's batches
// (native/fastnet.h's MetaField), so both become one PacketBatch.
class BatchBuilder {
 public:
  explicit BatchBuilder(uint32_t max) : max_(max) {}
  bool Full() const { return count_ >= max_; }
  uint32_t Room() const { return max_ - count_; }
  uint32_t Count() const { return count_; }
  void Add(const uint8_t* frame, uint32_t length, uint32_t orig_length,
           uint64_t timestamp_ns);
  Napi::Object ToJs(Napi::Env env) const;

 private:
  uint32_t max_;
  uint32_t count_ = 0;
  std::vector<uint8_t> data_;
  std::vector<uint32_t> meta_;
};

// Method counters: (name, value) pairs, and the frames the method lost.
struct KernelStats {
  uint64_t dropped = 0;
  std::vector<std::pair<std::string, uint64_t>> fields;
};

class Source {
 public:
  virtual ~Source() = default;
  // The descriptor poll(2) waits on for frames.
  virtual int Fd() const = 0;
  // Takes up to max frames that are ready, without waiting, and counts them.
  virtual void Count(Napi::Env env, uint32_t max, Counts* counts) = 0;
  // Takes up to batch->max frames that are ready, without waiting, copying them.
  virtual void Copy(Napi::Env env, BatchBuilder* batch, Counts* counts) = 0;
  virtual KernelStats Stats(Napi::Env env) = 0;
};

std::unique_ptr<Source> OpenPacketSocket(Napi::Env env, const Options& options,
                                         bool mmsg);
std::unique_ptr<Source> OpenPcap(Napi::Env env, const Options& options);
std::unique_ptr<Source> OpenXdp(Napi::Env env, const Options& options);

// A tcpdump expression compiled by libpcap for Ethernet frames
// (pcap_open_dead + pcap_compile) into classic BPF, the kernel's
// SO_ATTACH_FILTER format. Kept opaque: libpcap's struct bpf_insn and
// linux/bpf.h's (included by libxdp) share a name.
class Filter {
 public:
  // Throws ERR_INVALID_ARG_VALUE with libpcap's message.
  Filter(Napi::Env env, const std::string& expression, uint32_t snap_length);
  // A compiled program (struct sock_filter records), unchecked: the kernel
  // checks what it gets, and Validate() before libpcap runs one in user space.
  Filter(Napi::Env env, const std::vector<uint8_t>& program);
  // libpcap's bpf_validate(), which its interpreter needs to run a program
  // safely: ERR_INVALID_ARG_VALUE if it fails.
  void Validate(Napi::Env env) const;
  // The options' filter, expression or program; nullptr if none.
  static std::unique_ptr<Filter> FromOptions(Napi::Env env, const Options& options);
  ~Filter();
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;
  // Runs the program over a frame (pcap_offline_filter): its return
  // value, the snap length (0: rejected).
  uint32_t Run(const uint8_t* frame, uint32_t length) const;
  bool Match(const uint8_t* frame, uint32_t length) const { return Run(frame, length) != 0; }
  // The instructions, laid out as struct sock_filter.
  const void* Instructions() const;
  uint16_t Length() const;

 private:
  struct Program;
  std::unique_ptr<Program> program_;
};

// An error for a libpcap or libxdp failure that has no errno: code
// ERR_CAPTURE, with the library's message.
Napi::Error CaptureError(Napi::Env env, const std::string& message);

}  // namespace capture
}  // namespace kmodlab
