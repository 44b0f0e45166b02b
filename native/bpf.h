// cgroup v2 device filters: load, attach, replace, detach and list
// BPF_PROG_TYPE_CGROUP_DEVICE programs. The programs themselves are compiled
// in TypeScript (src/driver/runtime/devicefilter.ts).
#pragma once

#include <napi.h>

namespace nsvirt {

// Adds deviceFilterAttach, deviceFilterDetach and deviceFilterQuery to `exports`.
void RegisterBpfFunctions(Napi::Env env, Napi::Object exports);

}  // namespace nsvirt
