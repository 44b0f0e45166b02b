// nsvirt_native: the few system calls Node does not expose. Mechanism only;
// every policy (paths, modes, retries) lives in TypeScript.
#include <napi.h>

#include <cstring>
#include <string>

#include "bpf.h"
#include "lock.h"
#include "netstats.h"

namespace nsvirt {
namespace {

// strerror(errno): the C library's text, as libvirt quotes it in messages.
Napi::Value StrError(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "errno must be a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const int err = info[0].As<Napi::Number>().Int32Value();
  char buf[256];
  // GNU strerror_r may return a static string instead of filling buf.
  const char* text = strerror_r(err, buf, sizeof(buf));
  return Napi::String::New(env, text);
}

}  // namespace
}  // namespace nsvirt

static Napi::Object InitNsvirtNative(Napi::Env env, Napi::Object exports) {
  exports.Set("strerror", Napi::Function::New(env, nsvirt::StrError, "strerror"));
  nsvirt::RegisterLockFunctions(env, exports);
  nsvirt::RegisterBpfFunctions(env, exports);
  nsvirt::RegisterNetStatsFunctions(env, exports);
  return exports;
}

NODE_API_MODULE(nsvirt_native, InitNsvirtNative)
