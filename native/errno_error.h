// Errors shaped like Node's own system errors: message "CODE: description, syscall",
// with .errno (negative, as Node reports it), .code and .syscall properties.
#pragma once

#include <napi.h>
#include <uv.h>

#include <string>

namespace nsvirt {

inline Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall) {
  // libuv error codes on Unix are the negated errno values.
  const int uvErr = -err;
  const std::string code = uv_err_name(uvErr);
  Napi::Error error =
      Napi::Error::New(env, code + ": " + uv_strerror(uvErr) + ", " + syscall);
  error.Value().Set("errno", Napi::Number::New(env, uvErr));
  error.Value().Set("code", Napi::String::New(env, code));
  error.Value().Set("syscall", Napi::String::New(env, syscall));
  return error;
}

}  // namespace nsvirt
