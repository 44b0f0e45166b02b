// flock(2) bindings: advisory whole-file locks on descriptors owned by JavaScript.
#pragma once

#include <napi.h>

namespace nsvirt {

// Adds lockFileSync, lockFile (Promise) and unlockFile to `exports`.
void RegisterLockFunctions(Napi::Env env, Napi::Object exports);

}  // namespace nsvirt
