// Waiting for frames: poll(2) on a session, synchronously (benchmarks) or
// on a libuv worker thread so the event loop keeps running (iterators). A
// waker (an eventfd) ends an asynchronous wait early: close() and abort
// signals use it.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "addon.h"
#include "errno_error.h"
#include "fastnet.h"

namespace kmodlab {
namespace fastnet {
namespace {

int ArgTimeout(const Napi::CallbackInfo& info, size_t index) {
  int32_t timeout = ArgInt32(info, index, "timeoutMs");
  if (timeout < -1)
    throw OutOfRange(info.Env(), "The value of \"timeoutMs\" is out of range. It must be >= -1.");
  return timeout;
}

// poll(fd, timeoutMs, path?) -> revents (0 on timeout).
Napi::Value Poll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0, "fd");
  int timeout = ArgTimeout(info, 1);
  std::string path = ArgOptionalPath(info, 2);
  struct pollfd p = {fd, POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, timeout);
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    ThrowErrno(env, "poll", path.c_str());
  return Napi::Number::New(env, p.revents);
}

// The worker polls duplicates of the descriptors it was given, so that
// JavaScript may close its own at any time: the session is released when
// the last of them, the worker's, is closed.
class PollWorker : public Napi::AsyncWorker {
 public:
  PollWorker(Napi::Env env, int fd, int waker, int timeout, std::string path)
      : Napi::AsyncWorker(env, "fastnet.pollAsync"),
        deferred_(Napi::Promise::Deferred::New(env)),
        fd_(fd),
        waker_(waker),
        timeout_(timeout),
        path_(std::move(path)) {}

  ~PollWorker() override {
    if (fd_ >= 0)
      close(fd_);
    if (waker_ >= 0)
      close(waker_);
  }

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    struct pollfd p[2] = {{fd_, POLLIN, 0}, {waker_, POLLIN, 0}};
    int n;
    do {
      n = ::poll(p, 2, timeout_);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
      error_ = errno;
    else
      revents_ = p[0].revents;
  }

  void OnOK() override {
    if (error_ != 0)
      deferred_.Reject(ErrnoError(Env(), error_, "poll", path_.c_str()).Value());
    else
      deferred_.Resolve(Napi::Number::New(Env(), revents_));
  }

  void OnError(const Napi::Error& error) override {
    deferred_.Reject(error.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  int fd_;
  int waker_;
  int timeout_;
  std::string path_;
  int error_ = 0;
  int revents_ = 0;
};

// pollAsync(fd, waker, timeoutMs, path?) -> Promise<revents>: 0 when the
// time ran out or the waker was woken.
Napi::Value PollAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0, "fd");
  int waker = ArgInt32(info, 1, "waker");
  int timeout = ArgTimeout(info, 2);
  std::string path = ArgOptionalPath(info, 3);

  // Argument errors throw; system call errors reject, like fs.promises.
  int fd_copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  int waker_copy = fd_copy < 0 ? -1 : fcntl(waker, F_DUPFD_CLOEXEC, 0);
  if (waker_copy < 0) {
    int err = errno;
    if (fd_copy >= 0)
      close(fd_copy);
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(ErrnoError(env, err, "dup", path.c_str()).Value());
    return deferred.Promise();
  }
  auto* worker = new PollWorker(env, fd_copy, waker_copy, timeout, path);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// createWaker() -> fd: an eventfd that wake() makes readable for good.
Napi::Value CreateWaker(const Napi::CallbackInfo& info) {
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0)
    ThrowErrno(info.Env(), "eventfd");
  return Napi::Number::New(info.Env(), fd);
}

// wake(waker): every pending and future pollAsync() on it returns.
Napi::Value Wake(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "waker");
  uint64_t one = 1;
  if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
    ThrowErrno(info.Env(), "write");
  return info.Env().Undefined();
}

}  // namespace
}  // namespace fastnet

void InitFastnetWait(Napi::Env env, Napi::Object exports) {
  Napi::Object f = exports.Get("fastnet").As<Napi::Object>();
  f.Set("poll", Napi::Function::New(env, fastnet::Poll, "poll"));
  f.Set("pollAsync", Napi::Function::New(env, fastnet::PollAsync, "pollAsync"));
  f.Set("createWaker", Napi::Function::New(env, fastnet::CreateWaker, "createWaker"));
  f.Set("wake", Napi::Function::New(env, fastnet::Wake, "wake"));
}

}  // namespace kmodlab
