{
  "targets": [
    {
      "target_name": "lxnsd_native",
      "sources": [
        "src/addon.cc",
        "src/child_program.cc",
        "src/child_runner.cc",
        "src/errno_names.cc",
        "src/ns_fd.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra"],
      "cflags_cc": ["-Wall", "-Wextra", "-std=gnu++17"]
    }
  ]
}
