{
  "targets": [
    {
      "target_name": "nsvirt_native",
      "sources": ["native/addon.cc", "native/lock.cc", "native/bpf.cc", "native/netstats.cc"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS", "NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"]
    },
    {
      "target_name": "nsvirt_lxc",
      "type": "executable",
      "sources": [
        "native/supervisor/main.c",
        "native/supervisor/plan.c",
        "native/supervisor/host.c",
        "native/supervisor/child.c",
        "native/supervisor/netlink.c",
        "native/supervisor/netchange.c"
      ],
      "defines": ["_GNU_SOURCE"],
      "cflags_c": ["-std=c11", "-Wall", "-Wextra", "-Wshadow"]
    },
    {
      "target_name": "nsvirt_enter",
      "type": "executable",
      "sources": ["native/enter/enter.c", "native/enter/cgroup.c"],
      "defines": ["_GNU_SOURCE"],
      "cflags_c": ["-std=c11", "-Wall", "-Wextra", "-Wshadow"]
    }
  ]
}
