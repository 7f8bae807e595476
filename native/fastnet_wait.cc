// Waiting for frames: poll(2) on a session, synchronously (benchmarks), or on
// the event loop itself with a uv_poll_t (iterators), so that an idle wait
// holds no thread-pool thread. A waker ends asynchronous waits early, at
// once: close() and abort signals use it.
//
// libuv calls OnPoll and OnTimer from C: a C++ exception escaping them would
// end the process (std::terminate). Everything a wait does from there is
// noexcept and checks N-API's statuses itself: a promise that cannot be
// settled (no memory; a Worker being torn down, where N-API no longer runs
// JavaScript) is rejected if N-API still can, and left alone if not.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "addon.h"
#include "errno_error.h"
#include "fastnet.h"

namespace kmodlab {
namespace fastnet {
namespace {

class Wait;

struct Waker {
  bool woken = false;
  std::vector<Wait*> waits;
};

// Waits live on one event loop, so on one thread: the state is per thread
// (the main thread, each Worker). Waker ids start far above any descriptor
// number, so one mistaken for a descriptor fails with EBADF.
struct WaitState {
  std::unordered_map<int32_t, Waker> wakers;
  int32_t next_waker = 1 << 30;
  bool cleanup_hook = false;
};
thread_local WaitState state;

Waker* FindWaker(int32_t id) {
  auto it = state.wakers.find(id);
  return it == state.wakers.end() ? nullptr : &it->second;
}

Waker& ArgWaker(const Napi::CallbackInfo& info, size_t index) {
  int32_t id = ArgInt32(info, index, "waker");
  Waker* waker = FindWaker(id);
  if (waker == nullptr)
    throw InvalidArgValue(info.Env(), "The \"waker\" argument must be a waker from createWaker() not yet closed. Received " +
                                          std::to_string(id));
  return *waker;
}

int ArgTimeout(const Napi::CallbackInfo& info, size_t index) {
  int32_t timeout = ArgInt32(info, index, "timeoutMs");
  if (timeout < -1)
    throw OutOfRange(info.Env(), "The value of \"timeoutMs\" is out of range. It must be >= -1.");
  return timeout;
}

// One pollAsync(): a uv_poll_t on a duplicate of the session's descriptor
// (libuv watches each descriptor number once, and JavaScript may close its
// own), and a timer if the wait has a timeout. Finish() closes the duplicate
// at once and settles the promise; the handles free the Wait when closed.
class Wait {
 public:
  // Owns `fd` from here on, even if it throws.
  Wait(Napi::Env env, int fd, int32_t waker, std::string path)
      : env_(env), fd_(fd), waker_(waker), path_(std::move(path)) {
    try {
      deferred_ = std::make_unique<Napi::Promise::Deferred>(Napi::Promise::Deferred::New(env));
      napi_status status = napi_async_init(env, nullptr, Napi::String::New(env, "fastnet.pollAsync"), &context_);
      if (status != napi_ok) {
        context_ = nullptr;
        NAPI_THROW_IF_FAILED_VOID(env, status);
      }
    } catch (...) {
      close(fd_);
      throw;
    }
    poll_.data = this;
    timer_.data = this;
  }

  Napi::Promise Promise() const { return deferred_->Promise(); }

  // Starts waiting; returns 0 or a libuv error.
  int Start(uv_loop_t* loop, int timeout) {
    // uv_poll_init makes the descriptor non-blocking, and the flag belongs
    // to the session's open file, which may be a blocking one: put it back.
    int flags = fcntl(fd_, F_GETFL);
    if (flags < 0)
      return uv_translate_sys_error(errno);
    int err = uv_poll_init(loop, &poll_, fd_);
    if (err == 0)
      handles_++;
    if (!(flags & O_NONBLOCK) && fcntl(fd_, F_SETFL, flags) < 0 && err == 0)
      err = uv_translate_sys_error(errno);
    if (err != 0)
      return err;
    err = uv_poll_start(&poll_, UV_READABLE | UV_DISCONNECT, OnPoll);
    if (err != 0 || timeout < 0)
      return err;
    err = uv_timer_init(loop, &timer_);
    if (err != 0)
      return err;
    handles_++;
    return uv_timer_start(&timer_, OnTimer, static_cast<uint64_t>(timeout), 0);
  }

  // Ends the wait: from JavaScript (in_js) or from a libuv callback.
  // The handles are stopped and the descriptor closed before the promise
  // settles: its reactions, which may wait again, run when the callback
  // scope closes.
  void Finish(bool in_js, int revents, int error) noexcept {
    Unlist();
    CloseHandles();
    if (fd_ >= 0)
      close(fd_);
    fd_ = -1;
    if (in_js)
      Settle(revents, error);
    else
      SettleInScope(revents, error);
    // Fails only for a context already destroyed: nothing to undo.
    napi_async_destroy(env_, context_);
    context_ = nullptr;
    if (handles_ == 0)
      delete this;
  }

  // The environment is going away: free everything, settle nothing.
  void Abandon() noexcept {
    CloseHandles();
    if (fd_ >= 0)
      close(fd_);
    fd_ = -1;
    if (handles_ == 0)
      delete this;
  }

 private:
  // libuv reports POLLERR as UV_EBADF (and stops the handle): the exact
  // revents (POLLERR | POLLHUP when the device went away) come from poll(2)
  // itself. If another reader took the frame meanwhile, keep waiting.
  static void OnPoll(uv_poll_t* handle, int status, int) {
    Wait* wait = static_cast<Wait*>(handle->data);
    struct pollfd p = {wait->fd_, POLLIN, 0};
    int n = ::poll(&p, 1, 0);
    if (n > 0 && !(p.revents & POLLNVAL))
      wait->Finish(false, p.revents, 0);
    else if (status < 0 || (n > 0 && (p.revents & POLLNVAL)))
      wait->Finish(false, 0, status < 0 ? -status : EBADF);
  }

  static void OnTimer(uv_timer_t* handle) {
    static_cast<Wait*>(handle->data)->Finish(false, 0, 0);
  }

  static void OnClose(uv_handle_t* handle) {
    Wait* wait = static_cast<Wait*>(handle->data);
    if (--wait->handles_ == 0)
      delete wait;
  }

  // From a libuv callback: in a callback scope, so that the promise's
  // reactions run when it closes, as after any callback into JavaScript.
  // Without a scope (N-API refusing one) the promise is still settled.
  void SettleInScope(int revents, int error) noexcept {
    napi_handle_scope handles;
    if (napi_open_handle_scope(env_, &handles) != napi_ok)
      return;  // N-API can do nothing more in this environment
    napi_value resource;
    napi_callback_scope scope = nullptr;
    if (napi_create_object(env_, &resource) != napi_ok ||
        napi_open_callback_scope(env_, resource, context_, &scope) != napi_ok)
      scope = nullptr;
    Settle(revents, error);
    if (scope != nullptr)
      napi_close_callback_scope(env_, scope);
    napi_close_handle_scope(env_, handles);
  }

  // Resolves with revents or rejects with the errno; if that fails, rejects
  // with why it failed; if even that fails, the environment cannot run
  // JavaScript any more, and nobody is left to see the promise.
  void Settle(int revents, int error) noexcept {
    try {
      if (error != 0)
        deferred_->Reject(ErrnoError(env_, error, "poll", path_.c_str()).Value());
      else
        deferred_->Resolve(Napi::Number::New(env_, revents));
      return;
    } catch (const Napi::Error& e) {
      RejectWith([&] { return e.Value(); });
    } catch (const std::exception& e) {
      RejectWith([&] { return Napi::Error::New(env_, e.what()).Value(); });
    } catch (...) {
      RejectWith([&] { return Napi::Error::New(env_, "pollAsync: a native exception was thrown").Value(); });
    }
  }

  template <typename MakeError>
  void RejectWith(MakeError make_error) noexcept {
    try {
      deferred_->Reject(make_error());
    } catch (...) {
      // Nothing can reach JavaScript: see Settle().
    }
  }

  void Unlist() noexcept {
    Waker* waker = FindWaker(waker_);
    if (waker != nullptr)
      waker->waits.erase(std::remove(waker->waits.begin(), waker->waits.end(), this),
                         waker->waits.end());
  }

  // OnClose frees the Wait when the last handle is closed, on a later turn.
  void CloseHandles() noexcept {
    if (handles_ >= 1 && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&poll_)))
      uv_close(reinterpret_cast<uv_handle_t*>(&poll_), OnClose);
    if (handles_ == 2 && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&timer_)))
      uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnClose);
  }

  Napi::Env env_;
  std::unique_ptr<Napi::Promise::Deferred> deferred_;
  napi_async_context context_ = nullptr;
  uv_poll_t poll_;
  uv_timer_t timer_;
  int handles_ = 0;
  int fd_;
  int32_t waker_;
  std::string path_;
};

void Cleanup(void*) {
  for (auto& entry : state.wakers) {
    std::vector<Wait*> waits;
    waits.swap(entry.second.waits);
    for (Wait* wait : waits)
      wait->Abandon();
  }
  state.wakers.clear();
  state.cleanup_hook = false;
}

// poll(fd, timeoutMs, path?) -> revents (0 on timeout). Blocks the thread.
Napi::Value Poll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0, "fd");
  int timeout = ArgTimeout(info, 1);
  std::string path = ArgOptionalPath(info, 2);
  // poll(2) skips negative descriptors: with no timeout it would never return.
  if (fd < 0)
    throw ErrnoError(env, EBADF, "poll", path.c_str());
  struct pollfd p = {fd, POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, timeout);
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    ThrowErrno(env, "poll", path.c_str());
  if (p.revents & POLLNVAL)
    throw ErrnoError(env, EBADF, "poll", path.c_str());
  return Napi::Number::New(env, p.revents);
}

// pollAsync(fd, waker, timeoutMs, path?) -> Promise<revents>: 0 when the
// time ran out or the waker was woken. Argument errors throw; system call
// errors reject, like fs.promises.
Napi::Value PollAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0, "fd");
  Waker& waker = ArgWaker(info, 1);
  int32_t waker_id = info[1].As<Napi::Number>().Int32Value();
  int timeout = ArgTimeout(info, 2);
  std::string path = ArgOptionalPath(info, 3);

  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0 || waker.woken) {
    int err = errno;
    auto deferred = Napi::Promise::Deferred::New(env);
    if (copy < 0) {
      deferred.Reject(ErrnoError(env, err, "dup", path.c_str()).Value());
    } else {
      close(copy);
      deferred.Resolve(Napi::Number::New(env, 0));
    }
    return deferred.Promise();
  }

  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    close(copy);
    throw Napi::Error::New(env, "pollAsync: no event loop");
  }
  auto* wait = new Wait(env, copy, waker_id, path);  // closes copy if it throws
  Napi::Promise promise = wait->Promise();
  waker.waits.push_back(wait);
  int err = wait->Start(loop, timeout);
  if (err != 0)
    wait->Finish(true, 0, -err);
  return promise;
}

// createWaker() -> a waker id for pollAsync(); closeWaker() frees it.
Napi::Value CreateWaker(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!state.cleanup_hook) {
    // Without the hook, waits pending at teardown would outlive their environment.
    NAPI_THROW_IF_FAILED(env, napi_add_env_cleanup_hook(env, Cleanup, nullptr), Napi::Value());
    state.cleanup_hook = true;
  }
  int32_t id = state.next_waker++;
  state.wakers.emplace(id, Waker());
  return Napi::Number::New(env, id);
}

// Every pending pollAsync() on the waker resolves 0 and closes its
// descriptor now, and every later one resolves 0 at once.
void WakeAll(Waker& waker) {
  waker.woken = true;
  std::vector<Wait*> waits;
  waits.swap(waker.waits);
  for (Wait* wait : waits)
    wait->Finish(true, 0, 0);
}

// wake(waker).
Napi::Value Wake(const Napi::CallbackInfo& info) {
  WakeAll(ArgWaker(info, 0));
  return info.Env().Undefined();
}

// closeWaker(waker) -> false if it was already closed; wakes it first.
Napi::Value CloseWaker(const Napi::CallbackInfo& info) {
  int32_t id = ArgInt32(info, 0, "waker");
  Waker* waker = FindWaker(id);
  if (waker == nullptr)
    return Napi::Boolean::New(info.Env(), false);
  WakeAll(*waker);
  state.wakers.erase(id);
  return Napi::Boolean::New(info.Env(), true);
}

}  // namespace
}  // namespace fastnet

void InitFastnetWait(Napi::Env env, Napi::Object exports) {
  Napi::Object f = exports.Get("fastnet").As<Napi::Object>();
  f.Set("poll", Napi::Function::New(env, fastnet::Poll, "poll"));
  f.Set("pollAsync", Napi::Function::New(env, fastnet::PollAsync, "pollAsync"));
  f.Set("createWaker", Napi::Function::New(env, fastnet::CreateWaker, "createWaker"));
  f.Set("wake", Napi::Function::New(env, fastnet::Wake, "wake"));
  f.Set("closeWaker", Napi::Function::New(env, fastnet::CloseWaker, "closeWaker"));
}

}  // namespace kmodlab
