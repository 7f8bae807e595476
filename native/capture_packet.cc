// Methods "socket" and "socket-mmsg": an AF_PACKET SOCK_RAW socket bound to
// one device, read with one recv() per frame, or with recvmmsg() batches.
// A filter is attached (SO_ATTACH_FILTER) before the socket is bound, so no
// frame that fails it is ever queued. The socket reports an error (ENETDOWN
// when its device goes down) to one receive call only: one that meets it
// after taking frames returns them and keeps the error for the next call.
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "capture.h"
#include "errno_error.h"

namespace kmodlab {
namespace capture {
namespace {

class PacketSocket : public Source {
 public:
  PacketSocket(Napi::Env env, const Options& options, bool mmsg)
      : device_(options.device), mmsg_(mmsg), snap_(options.snap_length),
        vlen_(mmsg ? options.batch_size : 1) {
    unsigned int ifindex = if_nametoindex(device_.c_str());
    if (ifindex == 0)
      ThrowErrno(env, "if_nametoindex", device_.c_str());
    // Before the socket: a bad_alloc here has no descriptor to leak.
    // Not a vector: batchSize frames of snapLength bytes (16 MiB by default)
    // need no zeroing, and untouched pages cost nothing.
    buffers_.reset(new uint8_t[static_cast<size_t>(vlen_) * snap_]);
    iov_.resize(vlen_);
    msgs_.resize(vlen_);
    control_.resize(static_cast<size_t>(vlen_) * kControlSize);
    for (uint32_t i = 0; i < vlen_; i++) {
      iov_[i] = {&buffers_[static_cast<size_t>(i) * snap_], snap_};
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
    }
    // Protocol 0: nothing is queued until bind() names ETH_P_ALL, after the filter.
    fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0)
      ThrowErrno(env, "socket", device_.c_str());
    try {
      if (options.buffer_size != 0) {
        int size = static_cast<int>(std::min<uint32_t>(options.buffer_size, INT32_MAX / 2));
        // SO_RCVBUFFORCE passes rmem_max (root); SO_RCVBUF is capped by it.
        if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0 &&
            setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
          ThrowErrno(env, "setsockopt", device_.c_str());
      }
      // Frames received only, as every other method sees them.
      int on = 1;
      if (setsockopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &on, sizeof(on)) < 0)
        ThrowErrno(env, "setsockopt", device_.c_str());
      if (std::unique_ptr<Filter> filter = Filter::FromOptions(env, options)) {
        struct sock_fprog fprog = {filter->Length(),
                                   static_cast<struct sock_filter*>(const_cast<void*>(filter->Instructions()))};
        if (setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) < 0)
          ThrowErrno(env, "setsockopt", device_.c_str());
      }
      struct sockaddr_ll addr = {};
      addr.sll_family = AF_PACKET;
      addr.sll_protocol = htons(ETH_P_ALL);
      addr.sll_ifindex = static_cast<int>(ifindex);
      if (bind(fd_, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) < 0)
        ThrowErrno(env, "bind", device_.c_str());
    } catch (...) {
      close(fd_);
      throw;
    }
  }

  ~PacketSocket() override { close(fd_); }

  int Fd() const override { return fd_; }

  void Count(Napi::Env env, uint32_t max, Counts* counts) override {
    Receive(env, max, false, [&](uint32_t i, uint32_t length, uint32_t orig) {
      counts->frames++;
      counts->bytes += orig;
      counts->ipv4 += IsIPv4(Frame(i), length);
    });
  }

  void Copy(Napi::Env env, BatchBuilder* batch, Counts* counts) override {
    if (!timestamps_) {
      // Only copies want timestamps: counting does not pay for them.
      int on = 1;
      if (setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) < 0)
        ThrowErrno(env, "setsockopt", device_.c_str());
      timestamps_ = true;
    }
    uint32_t max = batch->Room();
    Receive(env, max, true, [&](uint32_t i, uint32_t length, uint32_t orig) {
      counts->frames++;
      counts->bytes += orig;
      counts->ipv4 += IsIPv4(Frame(i), length);
      batch->Add(Frame(i), length, orig, Timestamp(msgs_[i].msg_hdr));
    });
  }

  KernelStats Stats(Napi::Env env) override {
    // PACKET_STATISTICS resets the kernel's counters: keep the sums here.
    struct tpacket_stats st = {};
    socklen_t len = sizeof(st);
    if (getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
      ThrowErrno(env, "getsockopt", device_.c_str());
    tp_packets_ += st.tp_packets;  // frames that passed the filter, dropped ones included
    tp_drops_ += st.tp_drops;
    KernelStats stats;
    stats.dropped = tp_drops_;
    stats.fields = {{"tp_packets", tp_packets_}, {"tp_drops", tp_drops_}};
    return stats;
  }

 private:
  static constexpr size_t kControlSize = CMSG_SPACE(sizeof(struct timespec));

  uint8_t* Frame(uint32_t i) { return &buffers_[static_cast<size_t>(i) * snap_]; }

  static uint64_t Timestamp(const struct msghdr& msg) {
    for (const struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
         c = CMSG_NXTHDR(const_cast<struct msghdr*>(&msg), const_cast<struct cmsghdr*>(c))) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        struct timespec ts;
        std::memcpy(&ts, CMSG_DATA(c), sizeof(ts));
        return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
      }
    }
    return 0;
  }

  // Takes up to max queued frames, never waiting; calls each(slot, stored, on the wire).
  // An error after frames were taken ends the call quietly and is thrown by the next.
  template <typename Each>
  void Receive(Napi::Env env, uint32_t max, bool with_control, Each each) {
    if (pending_errno_ != 0) {
      int err = pending_errno_;
      pending_errno_ = 0;
      throw ErrnoError(env, err, pending_syscall_, device_.c_str());
    }
    uint32_t taken = 0;
    // Throws now if nothing was taken, else keeps the error for the next call.
    auto fail = [&](const char* syscall) {
      if (taken == 0)
        ThrowErrno(env, syscall, device_.c_str());
      pending_errno_ = errno;
      pending_syscall_ = syscall;
    };
    while (taken < max) {
      uint32_t want = std::min(vlen_, max - taken);
      for (uint32_t i = 0; i < want; i++) {
        struct msghdr& h = msgs_[i].msg_hdr;
        h.msg_control = with_control ? &control_[i * kControlSize] : nullptr;
        h.msg_controllen = with_control ? kControlSize : 0;
        h.msg_flags = 0;
      }
      int n;
      if (mmsg_) {
        do {
          n = recvmmsg(fd_, msgs_.data(), want, MSG_DONTWAIT | MSG_TRUNC, nullptr);
        } while (n < 0 && errno == EINTR);
        if (n < 0 && errno != EAGAIN) {
          fail("recvmmsg");
          return;
        }
      } else {
        ssize_t r;
        do {
          r = with_control ? recvmsg(fd_, &msgs_[0].msg_hdr, MSG_DONTWAIT | MSG_TRUNC)
                           : recv(fd_, Frame(0), snap_, MSG_DONTWAIT | MSG_TRUNC);
        } while (r < 0 && errno == EINTR);
        if (r < 0 && errno != EAGAIN) {
          fail(with_control ? "recvmsg" : "recv");
          return;
        }
        n = r < 0 ? -1 : 1;
        if (n == 1)
          msgs_[0].msg_len = static_cast<unsigned int>(r);
      }
      if (n <= 0)
        return;
      for (int i = 0; i < n; i++) {
        // With MSG_TRUNC, the length returned is the frame's whole length.
        uint32_t orig = msgs_[i].msg_len;
        each(static_cast<uint32_t>(i), std::min(orig, snap_), orig);
      }
      taken += static_cast<uint32_t>(n);
      if (static_cast<uint32_t>(n) < want)
        return;
    }
  }

  std::string device_;
  bool mmsg_;
  uint32_t snap_;
  uint32_t vlen_;
  int fd_ = -1;
  bool timestamps_ = false;
  // An error met after frames were taken, for the next call (0: none).
  int pending_errno_ = 0;
  const char* pending_syscall_ = "";
  uint64_t tp_packets_ = 0;
  uint64_t tp_drops_ = 0;
  std::unique_ptr<uint8_t[]> buffers_;
  std::vector<struct iovec> iov_;
  std::vector<struct mmsghdr> msgs_;
  std::vector<uint8_t> control_;
};

}  // namespace

std::unique_ptr<Source> OpenPacketSocket(Napi::Env env, const Options& options,
                                         bool mmsg) {
  return std::make_unique<PacketSocket>(env, options, mmsg);
}

}  // namespace capture
}  // namespace kmodlab
