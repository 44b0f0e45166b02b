#include "lock.h"

#include <sys/file.h>

#include <cerrno>

#include "errno_error.h"

namespace nsvirt {
namespace {

// flock(2) restarted on EINTR. Returns 0 or the errno of the failure.
int FlockRetrying(int fd, int operation) {
  for (;;) {
    if (flock(fd, operation) == 0) return 0;
    if (errno != EINTR) return errno;
  }
}

bool ReadFd(const Napi::CallbackInfo& info, int* fd) {
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(info.Env(), "fd must be a number").ThrowAsJavaScriptException();
    return false;
  }
  const int32_t value = info[0].As<Napi::Number>().Int32Value();
  if (value < 0) {
    // Let flock report it as EBADF, like any other bad descriptor.
    *fd = -1;
    return true;
  }
  *fd = value;
  return true;
}

bool ReadBool(const Napi::CallbackInfo& info, size_t index, const char* what, bool* out) {
  if (info.Length() <= index || !info[index].IsBoolean()) {
    Napi::TypeError::New(info.Env(), std::string(what) + " must be a boolean")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = info[index].As<Napi::Boolean>().Value();
  return true;
}

// lockFileSync(fd, exclusive, wait): true once the lock is held; false when
// `wait` is false and another open file description holds a conflicting lock.
Napi::Value LockFileSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  bool exclusive = false;
  bool wait = false;
  if (!ReadFd(info, &fd) || !ReadBool(info, 1, "exclusive", &exclusive) ||
      !ReadBool(info, 2, "wait", &wait)) {
    return env.Undefined();
  }
  const int operation = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
  const int err = FlockRetrying(fd, operation);
  if (err == EWOULDBLOCK && !wait) return Napi::Boolean::New(env, false);
  if (err != 0) {
    ErrnoError(env, err, "flock").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Boolean::New(env, true);
}

// Waits for the lock on a libuv worker thread so the event loop keeps running.
class LockWorker : public Napi::AsyncWorker {
 public:
  LockWorker(Napi::Env env, int fd, bool exclusive)
      : Napi::AsyncWorker(env, "nsvirt.lockFile"),
        deferred_(Napi::Promise::Deferred::New(env)),
        fd_(fd),
        exclusive_(exclusive) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override { err_ = FlockRetrying(fd_, exclusive_ ? LOCK_EX : LOCK_SH); }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      deferred_.Reject(ErrnoError(env, err_, "flock").Value());
    } else {
      deferred_.Resolve(env.Undefined());
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  const int fd_;
  const bool exclusive_;
  int err_ = 0;
};

// lockFile(fd, exclusive): a Promise settled once the lock is held.
Napi::Value LockFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  bool exclusive = false;
  if (!ReadFd(info, &fd) || !ReadBool(info, 1, "exclusive", &exclusive)) {
    return env.Undefined();
  }
  // Queue() hands ownership to N-API, which deletes the worker after OnOK.
  auto* worker = new LockWorker(env, fd, exclusive);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// unlockFile(fd): releases this open file description's lock.
Napi::Value UnlockFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!ReadFd(info, &fd)) return env.Undefined();
  const int err = FlockRetrying(fd, LOCK_UN);
  if (err != 0) ErrnoError(env, err, "flock").ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace

void RegisterLockFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("lockFileSync", Napi::Function::New(env, LockFileSync, "lockFileSync"));
  exports.Set("lockFile", Napi::Function::New(env, LockFile, "lockFile"));
  exports.Set("unlockFile", Napi::Function::New(env, UnlockFile, "unlockFile"));
}

}  // namespace nsvirt
