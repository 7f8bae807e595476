// exports.capture.Capture: one JS class over every Source (AF_PACKET, libpcap,
// AF_XDP). count() waits for frames and counts a batch in place; copy()
// hands a batch to JavaScript; stats() adds the method's own counters.
#include "capture.h"

#include <pcap/pcap.h>
#include <poll.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "addon.h"
#include "errno_error.h"
#include "fastnet.h"

namespace kmodlab {
namespace capture {

void BatchBuilder::Add(const uint8_t* frame, uint32_t length,
                       uint32_t orig_length, uint64_t timestamp_ns) {
  uint32_t offset = static_cast<uint32_t>(data_.size());
  data_.insert(data_.end(), frame, frame + length);
  meta_.push_back(offset);
  meta_.push_back(length);
  meta_.push_back(orig_length);
  meta_.push_back(length < orig_length ? 1u : 0u);  // FASTNET_PKT_TRUNC
  meta_.push_back(static_cast<uint32_t>(timestamp_ns));
  meta_.push_back(static_cast<uint32_t>(timestamp_ns >> 32));
  count_++;
}

Napi::Object BatchBuilder::ToJs(Napi::Env env) const {
  static_assert(fastnet::kMetaStride == 6, "meta layout shared with fastnet");
  Napi::Object batch = Napi::Object::New(env);
  batch.Set("count", Napi::Number::New(env, count_));
  batch.Set("bytes", Napi::Number::New(env, static_cast<double>(data_.size())));
  batch.Set("data", Napi::Buffer<uint8_t>::Copy(env, data_.data(), data_.size()));
  Napi::ArrayBuffer meta = Napi::ArrayBuffer::New(env, meta_.size() * sizeof(uint32_t));
  if (!meta_.empty())
    std::memcpy(meta.Data(), meta_.data(), meta_.size() * sizeof(uint32_t));
  batch.Set("meta", Napi::Uint32Array::New(env, meta_.size(), meta, 0));
  return batch;
}

struct Filter::Program {
  struct bpf_program bpf = {};
};

Filter::Filter(Napi::Env env, const std::string& expression, uint32_t snap_length)
    : program_(std::make_unique<Program>()) {
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, static_cast<int>(snap_length));
  if (dead == nullptr)
    throw ErrnoError(env, ENOMEM, "pcap_open_dead");
  int rc = pcap_compile(dead, &program_->bpf, expression.c_str(), 1, PCAP_NETMASK_UNKNOWN);
  std::string message = rc == 0 ? "" : pcap_geterr(dead);
  pcap_close(dead);
  if (rc != 0)
    throw InvalidArgValue(env, "The \"filter\" option is not a valid filter expression: " + message +
                                   ". Received " + expression);
}

Filter::Filter(Napi::Env env, const std::vector<uint8_t>& program)
    : program_(std::make_unique<Program>()) {
  static_assert(sizeof(struct bpf_insn) == 8, "struct sock_filter's layout");
  size_t count = program.size() / sizeof(struct bpf_insn);
  if (count == 0 || count > 0xffff || count * sizeof(struct bpf_insn) != program.size())
    throw InvalidArgValue(env, "The \"filter\" option is not a program: 1 to 65535 struct sock_filter records");
  // pcap_freecode() frees it.
  program_->bpf.bf_insns = static_cast<struct bpf_insn*>(malloc(program.size()));
  if (program_->bpf.bf_insns == nullptr)
    throw ErrnoError(env, ENOMEM, "malloc");
  std::memcpy(program_->bpf.bf_insns, program.data(), program.size());
  program_->bpf.bf_len = static_cast<u_int>(count);
}

void Filter::Validate(Napi::Env env) const {
  if (bpf_validate(program_->bpf.bf_insns, static_cast<int>(program_->bpf.bf_len)) == 0)
    throw InvalidArgValue(env, "The \"filter\" option is not a valid classic BPF program (libpcap's bpf_validate)");
}

std::unique_ptr<Filter> Filter::FromOptions(Napi::Env env, const Options& options) {
  if (!options.filter_program.empty())
    return std::make_unique<Filter>(env, options.filter_program);
  if (!options.filter.empty())
    return std::make_unique<Filter>(env, options.filter, options.snap_length);
  return nullptr;
}

Filter::~Filter() { pcap_freecode(&program_->bpf); }

uint32_t Filter::Run(const uint8_t* frame, uint32_t length) const {
  struct pcap_pkthdr h = {};
  h.caplen = h.len = length;
  return static_cast<uint32_t>(pcap_offline_filter(&program_->bpf, &h, frame));
}

const void* Filter::Instructions() const { return program_->bpf.bf_insns; }

uint16_t Filter::Length() const { return static_cast<uint16_t>(program_->bpf.bf_len); }

Napi::Error CaptureError(Napi::Env env, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_CAPTURE"));
  return error;
}

namespace {

uint32_t OptionU32(Napi::Object options, const char* name, uint32_t fallback) {
  Napi::Value value = options.Get(name);
  if (value.IsUndefined())
    return fallback;
  if (!value.IsNumber())
    throw InvalidArgType(options.Env(), std::string("The \"") + name + "\" option must be of type number");
  double n = value.As<Napi::Number>().DoubleValue();
  if (!(n >= 0 && n <= 4294967295.0) || static_cast<double>(static_cast<uint32_t>(n)) != n)
    throw OutOfRange(options.Env(), std::string("The value of \"") + name +
                                        "\" is out of range. It must be a 32-bit unsigned integer.");
  return static_cast<uint32_t>(n);
}

class Capture : public Napi::ObjectWrap<Capture> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Capture",
                       {InstanceMethod<&Capture::CountBatch>("count"),
                        InstanceMethod<&Capture::CopyBatch>("copy"),
                        InstanceMethod<&Capture::GetStats>("stats"),
                        InstanceMethod<&Capture::Close>("close"),
                        InstanceAccessor<&Capture::GetFd>("fd")});
  }

  // new Capture(method, options): method socket, socket-mmsg, pcap or af_xdp.
  explicit Capture(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Capture>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject())
      throw InvalidArgType(env, "new Capture(method, options): method must be a string, options an object");
    std::string method = info[0].As<Napi::String>().Utf8Value();
    Napi::Object o = info[1].As<Napi::Object>();
    Options options;
    if (!o.Get("device").IsString())
      throw InvalidArgType(env, "The \"device\" option must be of type string");
    options.device = o.Get("device").As<Napi::String>().Utf8Value();
    options.snap_length = OptionU32(o, "snapLength", options.snap_length);
    options.buffer_size = OptionU32(o, "bufferSize", 0);
    options.ring_size = OptionU32(o, "ringSize", 0);
    options.frame_size = OptionU32(o, "frameSize", 0);
    options.batch_size = OptionU32(o, "batchSize", options.batch_size);
    options.timeout_ms = OptionU32(o, "timeoutMs", 0);
    if (options.snap_length < 1 || options.batch_size < 1)
      throw OutOfRange(env, "snapLength and batchSize must be at least 1");
    Napi::Value filter = o.Get("filter");
    if (filter.IsString()) {
      options.filter = filter.As<Napi::String>().Utf8Value();
    } else if (filter.IsTypedArray()) {
      Napi::TypedArray program = filter.As<Napi::TypedArray>();
      const uint8_t* data = static_cast<uint8_t*>(program.ArrayBuffer().Data()) + program.ByteOffset();
      options.filter_program.assign(data, data + program.ByteLength());
      if (options.filter_program.empty())
        throw InvalidArgValue(env, "The \"filter\" option is an empty program");
    }
    if (method == "socket" || method == "socket-mmsg")
      source_ = OpenPacketSocket(env, options, method == "socket-mmsg");
    else if (method == "pcap")
      source_ = OpenPcap(env, options);
    else if (method == "af_xdp")
      source_ = OpenXdp(env, options);
    else
      throw Napi::TypeError::New(env, "Unknown native capture method " + method);
    batch_size_ = options.batch_size;
  }

 private:
  Source& Open(Napi::Env env) {
    if (!source_)
      throw fastnet::FastnetError(env, "ERR_INVALID_STATE", "Invalid state: The capture is closed");
    return *source_;
  }

  uint32_t ArgMax(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || info[0].IsUndefined())
      return batch_size_;
    int64_t max = ArgInt64(info, 0, "max");
    if (max < 1 || max > (1 << 20))
      throw OutOfRange(info.Env(), "The value of \"max\" is out of range. It must be >= 1 && <= 1048576.");
    return static_cast<uint32_t>(max);
  }

  // Waits up to timeoutMs (-1: for ever) for the descriptor to be readable.
  void Wait(Napi::Env env, int timeout) {
    struct pollfd p = {source_->Fd(), POLLIN, 0};
    int n;
    do {
      n = ::poll(&p, 1, timeout);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
      ThrowErrno(env, "poll");
  }

  // count(max?, timeoutMs?) -> {frames, ipv4, bytes}: takes what is ready,
  // and only if nothing is, waits up to timeoutMs and takes again.
  Napi::Value CountBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Source& source = Open(env);
    uint32_t max = ArgMax(info);
    int timeout = info.Length() > 1 ? ArgInt32(info, 1, "timeoutMs") : 0;
    if (timeout < -1)
      throw OutOfRange(env, "The value of \"timeoutMs\" is out of range. It must be >= -1.");
    Counts counts;
    source.Count(env, max, &counts);
    if (counts.frames == 0 && timeout != 0) {
      Wait(env, timeout);
      source.Count(env, max, &counts);
    }
    Add(counts);
    Napi::Object result = Napi::Object::New(env);
    result.Set("frames", Napi::Number::New(env, static_cast<double>(counts.frames)));
    result.Set("ipv4", Napi::Number::New(env, static_cast<double>(counts.ipv4)));
    result.Set("bytes", Napi::Number::New(env, static_cast<double>(counts.bytes)));
    return result;
  }

  // copy(max?) -> {count, bytes, data, meta}: the frames ready now, copied.
  Napi::Value CopyBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Source& source = Open(env);
    BatchBuilder batch(ArgMax(info));
    Counts counts;
    source.Copy(env, &batch, &counts);
    Add(counts);
    return batch.ToJs(env);
  }

  // stats() -> {received, ipv4, bytes, dropped, detail}.
  Napi::Value GetStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    KernelStats kernel = Open(env).Stats(env);
    Napi::Object stats = Napi::Object::New(env);
    stats.Set("received", Napi::Number::New(env, static_cast<double>(total_.frames)));
    stats.Set("ipv4", Napi::Number::New(env, static_cast<double>(total_.ipv4)));
    stats.Set("bytes", Napi::Number::New(env, static_cast<double>(total_.bytes)));
    stats.Set("dropped", Napi::Number::New(env, static_cast<double>(kernel.dropped)));
    Napi::Object detail = Napi::Object::New(env);
    for (const auto& [name, value] : kernel.fields)
      detail.Set(name, Napi::Number::New(env, static_cast<double>(value)));
    stats.Set("detail", detail);
    return stats;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    bool was_open = static_cast<bool>(source_);
    source_.reset();
    return Napi::Boolean::New(info.Env(), was_open);
  }

  Napi::Value GetFd(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), source_ ? source_->Fd() : -1);
  }

  void Add(const Counts& counts) {
    total_.frames += counts.frames;
    total_.ipv4 += counts.ipv4;
    total_.bytes += counts.bytes;
  }

  std::unique_ptr<Source> source_;
  uint32_t batch_size_ = 256;
  Counts total_;
};

// checkFilter(expression, snapLength) -> instructions: compiles and frees.
Napi::Value CheckFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw InvalidArgType(env, "The \"filter\" argument must be of type string");
  uint32_t snap = info.Length() > 1 ? static_cast<uint32_t>(ArgInt32(info, 1, "snapLength")) : 65535;
  Filter filter(env, info[0].As<Napi::String>().Utf8Value(), snap);
  return Napi::Number::New(env, filter.Length());
}

// compileFilter(expression, snapLength) -> Buffer: the program, as struct
// sock_filter records (ERR_INVALID_ARG_VALUE with libpcap's message).
Napi::Value CompileFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw InvalidArgType(env, "The \"filter\" argument must be of type string");
  uint32_t snap = info.Length() > 1 ? static_cast<uint32_t>(ArgInt32(info, 1, "snapLength")) : 65535;
  Filter filter(env, info[0].As<Napi::String>().Utf8Value(), snap);
  return Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t*>(filter.Instructions()),
                                     static_cast<size_t>(filter.Length()) * 8);
}

// offlineFilter(program, frame) -> the snap length pcap_offline_filter()
// gives the frame (0: rejected); the program must pass bpf_validate().
Napi::Value OfflineFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsTypedArray())
    throw InvalidArgType(env, "offlineFilter expects (program: Uint8Array, frame: Uint8Array)");
  auto bytes = [](Napi::TypedArray a) {
    const uint8_t* data = static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
    return std::vector<uint8_t>(data, data + a.ByteLength());
  };
  Filter filter(env, bytes(info[0].As<Napi::TypedArray>()));
  filter.Validate(env);
  // Its own allocation, exactly the frame's length: nothing past it to read.
  std::vector<uint8_t> frame = bytes(info[1].As<Napi::TypedArray>());
  return Napi::Number::New(env, filter.Run(frame.data(), static_cast<uint32_t>(frame.size())));
}

}  // namespace
}  // namespace capture

void InitCapture(Napi::Env env, Napi::Object exports) {
  Napi::Object c = Napi::Object::New(env);
  c.Set("Capture", capture::Capture::Define(env));
  c.Set("checkFilter", Napi::Function::New(env, capture::CheckFilter, "checkFilter"));
  c.Set("compileFilter", Napi::Function::New(env, capture::CompileFilter, "compileFilter"));
  c.Set("offlineFilter", Napi::Function::New(env, capture::OfflineFilter, "offlineFilter"));
  c.Set("libpcapVersion", Napi::String::New(env, pcap_lib_version()));
  exports.Set("capture", c);
}

}  // namespace kmodlab
