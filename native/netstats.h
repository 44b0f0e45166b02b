// Interface counters read over rtnetlink (RTM_GETLINK, IFLA_STATS64) in the
// caller's network namespace: what `virsh domifstat` reports.
#pragma once

#include <napi.h>

namespace nsvirt {

// Adds linkStats to `exports`.
void RegisterNetStatsFunctions(Napi::Env env, Napi::Object exports);

}  // namespace nsvirt
