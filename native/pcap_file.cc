// Capture files read by libpcap (lib/pcap-file.ts's PcapReader and
// readPcapFile): pcap_open_offline_with_tstamp_precision() with nanoseconds,
// so classic pcap in either resolution and byte order, and pcapng (what
// tshark and dumpcap write), come out the same way: batches built as the
// capture methods build theirs (capture::BatchBuilder), one PacketBatch shape.
#include <pcap/pcap.h>

#include <string>

#include "addon.h"
#include "capture.h"
#include "fastnet.h"

namespace kmodlab {
namespace {

struct File {
  pcap_t* pcap = nullptr;
  std::string path;
};

Napi::Error FormatError(Napi::Env env, const std::string& path, const std::string& why) {
  Napi::Error error = Napi::Error::New(env, path + " is not a capture file libpcap reads: " + why);
  error.Set("code", Napi::String::New(env, "ERR_PCAP_FORMAT"));
  error.Set("path", Napi::String::New(env, path));
  return error;
}

void Finalize(Napi::Env, File* file) {
  if (file->pcap != nullptr)
    pcap_close(file->pcap);
  delete file;
}

File* GetFile(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal())
    throw Napi::TypeError::New(info.Env(), "The \"file\" argument must be a handle from openPcapFile()");
  return info[0].As<Napi::External<File>>().Data();
}

// openPcapFile(path) -> {file, linkType, snapLength}. The caller checked the
// file exists and is readable (Node's own errors); any failure here is the format.
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw Napi::TypeError::New(env, "The \"path\" argument must be of type string");
  std::string path = info[0].As<Napi::String>();
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  pcap_t* pcap = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (pcap == nullptr)
    throw FormatError(env, path, errbuf);
  File* file = new File{pcap, path};
  Napi::Object result = Napi::Object::New(env);
  result.Set("file", Napi::External<File>::New(env, file, Finalize));
  result.Set("linkType", Napi::Number::New(env, pcap_datalink(pcap)));
  result.Set("snapLength", Napi::Number::New(env, pcap_snapshot(pcap)));
  return result;
}

// readPcapFile(file, max) -> {count, bytes, data, meta}: up to max records;
// count 0 at the end of the file.
Napi::Value Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  File* file = GetFile(info);
  uint32_t max = fastnet::ArgMaxBatch(info, 1);
  if (file->pcap == nullptr)
    throw Napi::Error::New(env, "The capture file " + file->path + " is closed");
  capture::BatchBuilder batch(max);
  while (!batch.Full()) {
    struct pcap_pkthdr* h;
    const u_char* bytes;
    int rc = pcap_next_ex(file->pcap, &h, &bytes);
    if (rc == PCAP_ERROR_BREAK)
      break;
    if (rc != 1)
      throw FormatError(env, file->path, pcap_geterr(file->pcap));
    // Nanosecond precision: tv_usec holds nanoseconds.
    uint64_t ns = static_cast<uint64_t>(h->ts.tv_sec) * 1000000000u + static_cast<uint64_t>(h->ts.tv_usec);
    batch.Add(bytes, h->caplen, h->len, ns);
  }
  return batch.ToJs(env);
}

// closePcapFile(file) -> false if it was already closed.
Napi::Value Close(const Napi::CallbackInfo& info) {
  File* file = GetFile(info);
  if (file->pcap == nullptr)
    return Napi::Boolean::New(info.Env(), false);
  pcap_close(file->pcap);
  file->pcap = nullptr;
  return Napi::Boolean::New(info.Env(), true);
}

}  // namespace

void InitPcapFile(Napi::Env env, Napi::Object exports) {
  Napi::Object c = exports.Get("capture").As<Napi::Object>();
  c.Set("openPcapFile", Napi::Function::New(env, Open, "openPcapFile"));
  c.Set("readPcapFile", Napi::Function::New(env, Read, "readPcapFile"));
  c.Set("closePcapFile", Napi::Function::New(env, Close, "closePcapFile"));
}

}  // namespace kmodlab
