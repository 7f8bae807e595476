// Each native/*.cc file adds its functions to the addon's exports through
// one Init function, called from addon.cc.
#pragma once

#include <napi.h>

namespace kmodlab {

void InitIoctl(Napi::Env env, Napi::Object exports);
void InitMapping(Napi::Env env, Napi::Object exports);
void InitKshram(Napi::Env env, Napi::Object exports);
void InitKernelModule(Napi::Env env, Napi::Object exports);
// fastnet: InitFastnet creates exports.fastnet, the others add to it.
void InitFastnet(Napi::Env env, Napi::Object exports);
void InitFastnetRing(Napi::Env env, Napi::Object exports);
void InitFastnetWait(Napi::Env env, Napi::Object exports);
void InitFastnetFilter(Napi::Env env, Napi::Object exports);
// capture: the methods over AF_PACKET, libpcap and AF_XDP (native/capture*.cc).
void InitCapture(Napi::Env env, Napi::Object exports);
// Capture files through libpcap (native/pcap_file.cc): adds to exports.capture.
void InitPcapFile(Napi::Env env, Napi::Object exports);

}  // namespace kmodlab
