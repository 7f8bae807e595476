// Method "af_xdp": an AF_XDP socket on queue 0 of a device, made by libxdp
// (xsk_socket__create), which also attaches libxdp's default redirect
// program (xsk_def_xdp_prog) and fills its xsks_map. Generic XDP (SKB mode)
// with copy binding by default: what veth and e1000 support for frames
// that enter through the stack's receive path. Frames land in a umem of
// fixed-size chunks; the loop reads them in place from the rx ring and
// hands the chunks straight back through the fill ring.
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <string>

#include "capture.h"
#include "errno_error.h"

namespace kmodlab {
namespace capture {
namespace {

constexpr uint32_t kDefaultRingSize = XSK_RING_CONS__DEFAULT_NUM_DESCS;
constexpr uint32_t kDefaultFrameSize = 2048;

// libxdp and libbpf explain their failures through a print callback: keep the
// last warning to put in the error instead of writing to stderr.
std::string last_library_message;

int KeepWarning(enum libxdp_print_level level, const char* format, va_list args) {
  if (level == LIBXDP_WARN) {
    char text[512];
    vsnprintf(text, sizeof(text), format, args);
    last_library_message = text;
    while (!last_library_message.empty() && last_library_message.back() == '\n')
      last_library_message.pop_back();
  }
  return 0;
}

int KeepBpfWarning(enum libbpf_print_level level, const char* format, va_list args) {
  return level == LIBBPF_WARN ? KeepWarning(LIBXDP_WARN, format, args) : 0;
}

// A libxdp failure (-errno) as a Node-style error, with libxdp's words.
Napi::Error XdpError(Napi::Env env, int rc, const char* call, const std::string& device) {
  Napi::Error error = ErrnoError(env, -rc, call, device.c_str());
  if (!last_library_message.empty()) {
    error.Set("message", Napi::String::New(env, error.Message() + " (" + last_library_message + ")"));
    error.Set("detail", Napi::String::New(env, last_library_message));
  }
  return error;
}

class Xdp : public Source {
 public:
  Xdp(Napi::Env env, const Options& options) : device_(options.device) {
    libxdp_set_print(KeepWarning);
    libbpf_set_print(KeepBpfWarning);
    last_library_message.clear();
    if (if_nametoindex(device_.c_str()) == 0)
      ThrowErrno(env, "if_nametoindex", device_.c_str());
    ring_size_ = options.ring_size ? options.ring_size : kDefaultRingSize;
    frame_size_ = options.frame_size ? options.frame_size : kDefaultFrameSize;
    snap_ = options.snap_length;
    // The fill ring holds every chunk, twice the rx ring: the kernel always has room.
    chunks_ = 2 * ring_size_;
    area_size_ = static_cast<size_t>(chunks_) * frame_size_;
    area_ = mmap(nullptr, area_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area_ == MAP_FAILED) {
      area_ = nullptr;
      ThrowErrno(env, "mmap", device_.c_str());
    }
    try {
      // No classic BPF on an XSK: the filter runs here, over each frame.
      filter_ = Filter::FromOptions(env, options);
      if (filter_)
        filter_->Validate(env);
      struct xsk_umem_config umem_config = {chunks_, ring_size_, frame_size_, 0, 0};
      int rc = xsk_umem__create(&umem_, area_, area_size_, &fill_, &comp_, &umem_config);
      if (rc < 0) {
        umem_ = nullptr;
        throw XdpError(env, rc, "xsk_umem__create", device_);
      }
      struct xsk_socket_config config = {};
      config.rx_size = ring_size_;
      config.tx_size = 0;
      config.libxdp_flags = 0;  // load libxdp's default program
      config.xdp_flags = XDP_FLAGS_SKB_MODE;
      config.bind_flags = XDP_COPY;
      rc = xsk_socket__create(&xsk_, device_.c_str(), 0, umem_, &rx_, nullptr, &config);
      if (rc < 0) {
        xsk_ = nullptr;
        throw XdpError(env, rc, "xsk_socket__create", device_);
      }
      uint32_t index = 0;
      if (xsk_ring_prod__reserve(&fill_, chunks_, &index) != chunks_)
        throw CaptureError(env, "af_xdp: cannot fill the fill ring");
      for (uint32_t i = 0; i < chunks_; i++)
        *xsk_ring_prod__fill_addr(&fill_, index + i) = static_cast<uint64_t>(i) * frame_size_;
      xsk_ring_prod__submit(&fill_, chunks_);
    } catch (...) {
      Release();
      throw;
    }
  }

  ~Xdp() override { Release(); }

  int Fd() const override { return xsk_socket__fd(xsk_); }

  void Count(Napi::Env env, uint32_t max, Counts* counts) override {
    Take(env, max, [&](const uint8_t* frame, uint32_t length) {
      counts->frames++;
      counts->bytes += length;
      counts->ipv4 += IsIPv4(frame, length);
    });
  }

  void Copy(Napi::Env env, BatchBuilder* batch, Counts* counts) override {
    Take(env, batch->Room(), [&](const uint8_t* frame, uint32_t length) {
      counts->frames++;
      counts->bytes += length;
      counts->ipv4 += IsIPv4(frame, length);
      // AF_XDP gives no timestamp: the time this process takes the frame off the ring, to the
      // nanosecond (CLOCK_REALTIME, as the kernel's stamps of the other methods).
      struct timespec now;
      clock_gettime(CLOCK_REALTIME, &now);
      batch->Add(frame, std::min(length, snap_), length,
                 static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec));
    });
  }

  KernelStats Stats(Napi::Env env) override {
    struct xdp_statistics st = {};
    socklen_t len = sizeof(st);
    if (getsockopt(xsk_socket__fd(xsk_), SOL_XDP, XDP_STATISTICS, &st, &len) < 0)
      ThrowErrno(env, "getsockopt", device_.c_str());
    KernelStats stats;
    // Frames the socket lost: no room in the rx ring, or dropped for another reason.
    stats.dropped = st.rx_dropped + st.rx_ring_full;
    stats.fields = {{"rx_dropped", st.rx_dropped},
                    {"rx_invalid_descs", st.rx_invalid_descs},
                    {"rx_ring_full", st.rx_ring_full},
                    {"rx_fill_ring_empty_descs", st.rx_fill_ring_empty_descs},
                    {"filtered_out", filtered_out_}};
    return stats;
  }

 private:
  // Takes up to max received frames, calls each(frame, length) on those the
  // filter keeps, and gives every chunk back to the fill ring.
  template <typename Each>
  void Take(Napi::Env, uint32_t max, Each each) {
    uint32_t taken = 0;
    while (taken < max) {
      uint32_t rx_index = 0;
      uint32_t n = xsk_ring_cons__peek(&rx_, max - taken, &rx_index);
      if (n == 0)
        return;
      uint32_t fill_index = 0;
      // Never short: the fill ring has room for every chunk there is.
      xsk_ring_prod__reserve(&fill_, n, &fill_index);
      for (uint32_t i = 0; i < n; i++) {
        const struct xdp_desc* desc = xsk_ring_cons__rx_desc(&rx_, rx_index + i);
        const uint8_t* frame = static_cast<const uint8_t*>(xsk_umem__get_data(area_, desc->addr));
        if (Keep(frame, desc->len))
          each(frame, desc->len);
        *xsk_ring_prod__fill_addr(&fill_, fill_index + i) = desc->addr & ~static_cast<uint64_t>(frame_size_ - 1);
      }
      xsk_ring_cons__release(&rx_, n);
      xsk_ring_prod__submit(&fill_, n);
      taken += n;
    }
  }

  bool Keep(const uint8_t* frame, uint32_t length) {
    if (!filter_ || filter_->Match(frame, length))
      return true;
    filtered_out_++;
    return false;
  }

  void Release() {
    if (xsk_ != nullptr)
      xsk_socket__delete(xsk_);  // also detaches the program it attached
    if (umem_ != nullptr)
      xsk_umem__delete(umem_);
    if (area_ != nullptr)
      munmap(area_, area_size_);
    xsk_ = nullptr;
    umem_ = nullptr;
    area_ = nullptr;
  }

  std::string device_;
  uint32_t ring_size_ = 0;
  uint32_t frame_size_ = 0;
  uint32_t snap_ = 0;
  uint32_t chunks_ = 0;
  size_t area_size_ = 0;
  void* area_ = nullptr;
  struct xsk_umem* umem_ = nullptr;
  struct xsk_socket* xsk_ = nullptr;
  struct xsk_ring_prod fill_ = {};
  struct xsk_ring_cons comp_ = {};
  struct xsk_ring_cons rx_ = {};
  std::unique_ptr<Filter> filter_;
  uint64_t filtered_out_ = 0;
};

}  // namespace

std::unique_ptr<Source> OpenXdp(Napi::Env env, const Options& options) {
  return std::make_unique<Xdp>(env, options);
}

}  // namespace capture
}  // namespace kmodlab
