// Method "pcap": libpcap on Linux, which reads the kernel's packet_mmap ring
// (TPACKET_V3: blocks of frames, retired when full or when the block
// timeout runs out). Not in immediate mode: that would make libpcap fall
// back to TPACKET_V2. A filter goes to the kernel through pcap_setfilter.
#include <pcap/pcap.h>

#include <cerrno>
#include <string>

#include "capture.h"
#include "errno_error.h"

namespace kmodlab {
namespace capture {
namespace {

constexpr int kDefaultTimeoutMs = 100;

class Pcap : public Source {
 public:
  Pcap(Napi::Env env, const Options& options) : device_(options.device) {
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_ = pcap_create(device_.c_str(), errbuf);
    if (pcap_ == nullptr)
      throw CaptureError(env, std::string("pcap_create: ") + errbuf);
    try {
      pcap_set_snaplen(pcap_, static_cast<int>(options.snap_length));
      pcap_set_promisc(pcap_, 0);
      pcap_set_timeout(pcap_, options.timeout_ms ? static_cast<int>(options.timeout_ms) : kDefaultTimeoutMs);
      pcap_set_tstamp_precision(pcap_, PCAP_TSTAMP_PRECISION_NANO);
      if (options.buffer_size != 0)
        pcap_set_buffer_size(pcap_, static_cast<int>(options.buffer_size));
      int rc = pcap_activate(pcap_);
      if (rc < 0)
        throw ActivateError(env, rc);
      if (pcap_datalink(pcap_) != DLT_EN10MB)
        throw ErrnoError(env, EOPNOTSUPP, "pcap_activate", device_.c_str());
      // Frames received only, as every other method sees them.
      if (pcap_setdirection(pcap_, PCAP_D_IN) < 0)
        throw CaptureError(env, std::string("pcap_setdirection: ") + pcap_geterr(pcap_));
      if (pcap_setnonblock(pcap_, 1, errbuf) < 0)
        throw CaptureError(env, std::string("pcap_setnonblock: ") + errbuf);
      // Compiled here for the same errors as the other methods; the
      // kernel gets it as classic BPF, through libpcap.
      if (std::unique_ptr<Filter> filter = Filter::FromOptions(env, options)) {
        struct bpf_program program = {filter->Length(),
                                      static_cast<struct bpf_insn*>(const_cast<void*>(filter->Instructions()))};
        if (pcap_setfilter(pcap_, &program) < 0)
          throw CaptureError(env, std::string("pcap_setfilter: ") + pcap_geterr(pcap_));
      }
      fd_ = pcap_get_selectable_fd(pcap_);
    } catch (...) {
      pcap_close(pcap_);
      throw;
    }
  }

  ~Pcap() override { pcap_close(pcap_); }

  int Fd() const override { return fd_; }

  void Count(Napi::Env env, uint32_t max, Counts* counts) override {
    Dispatch(env, max, &OnCount, reinterpret_cast<u_char*>(counts), counts);
  }

  void Copy(Napi::Env env, BatchBuilder* batch, Counts* counts) override {
    CopyContext context = {batch, counts};
    Dispatch(env, batch->Room(), &OnCopy, reinterpret_cast<u_char*>(&context), counts);
  }

  KernelStats Stats(Napi::Env env) override {
    struct pcap_stat st = {};
    if (pcap_stats(pcap_, &st) < 0)
      throw CaptureError(env, std::string("pcap_stats: ") + pcap_geterr(pcap_));
    KernelStats stats;
    stats.dropped = st.ps_drop;
    stats.fields = {{"ps_recv", st.ps_recv}, {"ps_drop", st.ps_drop}, {"ps_ifdrop", st.ps_ifdrop}};
    return stats;
  }

 private:
  struct CopyContext {
    BatchBuilder* batch;
    Counts* counts;
  };

  static void Tally(Counts* counts, const struct pcap_pkthdr* h, const u_char* bytes) {
    counts->frames++;
    counts->bytes += h->len;
    counts->ipv4 += IsIPv4(bytes, h->caplen);
  }

  static void OnCount(u_char* user, const struct pcap_pkthdr* h, const u_char* bytes) {
    Tally(reinterpret_cast<Counts*>(user), h, bytes);
  }

  static void OnCopy(u_char* user, const struct pcap_pkthdr* h, const u_char* bytes) {
    auto* context = reinterpret_cast<CopyContext*>(user);
    Tally(context->counts, h, bytes);
    // Nanosecond precision: tv_usec holds nanoseconds.
    uint64_t ns = static_cast<uint64_t>(h->ts.tv_sec) * 1000000000u + static_cast<uint64_t>(h->ts.tv_usec);
    context->batch->Add(bytes, h->caplen, h->len, ns);
  }

  // pcap_dispatch until max frames or nothing more is ready.
  void Dispatch(Napi::Env env, uint32_t max, pcap_handler handler, u_char* user, Counts* counts) {
    uint64_t start = counts->frames;
    while (counts->frames - start < max) {
      int want = static_cast<int>(max - (counts->frames - start));
      int n = pcap_dispatch(pcap_, want, handler, user);
      if (n < 0)
        throw CaptureError(env, std::string("pcap_dispatch: ") + pcap_geterr(pcap_));
      if (n == 0)
        return;
    }
  }

  Napi::Error ActivateError(Napi::Env env, int rc) {
    const char* path = device_.c_str();
    switch (rc) {
      case PCAP_ERROR_NO_SUCH_DEVICE:
        return ErrnoError(env, ENODEV, "pcap_activate", path);
      case PCAP_ERROR_PERM_DENIED:
        return ErrnoError(env, EPERM, "pcap_activate", path);
      case PCAP_ERROR_IFACE_NOT_UP:
        return ErrnoError(env, ENETDOWN, "pcap_activate", path);
      default:
        return CaptureError(env, std::string("pcap_activate: ") + pcap_statustostr(rc) + ": " +
                                     pcap_geterr(pcap_));
    }
  }

  std::string device_;
  pcap_t* pcap_ = nullptr;
  int fd_ = -1;
};

}  // namespace

std::unique_ptr<Source> OpenPcap(Napi::Env env, const Options& options) {
  return std::make_unique<Pcap>(env, options);
}

}  // namespace capture
}  // namespace kmodlab
