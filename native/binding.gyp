{
  "targets": [
    {
      "target_name": "lxnsd_native",
      "sources": [
        "src/js/addon.cc",
        "src/js/child_calls_js.cc",
        "src/js/child_spec_js.cc",
        "src/js/fd_calls_js.cc",
        "src/js/js_args.cc",
        "src/js/js_completion.cc",
        "src/js/native_error_js.cc",
        "src/js/terminal_js.cc",
        "src/child/child_steps.cc",
        "src/child/step_names.cc",
        "src/child/child_run.cc",
        "src/child/child_run_start.cc",
        "src/child/child_runner.cc",
        "src/child/child_spec.cc",
        "src/child/failure_names.cc",
        "src/child/keepers.cc",
        "src/child/parent_actions.cc",
        "src/child/region_pool.cc",
        "src/child/signal_reset.cc",
        "src/child/spec_translation.cc",
        "src/child/stdio_pipes.cc",
        "src/child/child_target.cc",
        "src/child/child_terminal.cc",
        "src/js/errno_names.cc",
        "src/mount_ops.cc",
        "src/file_ops.cc",
        "src/op_threads.cc",
        "src/js/file_ops_js.cc",
        "src/ns_fd.cc",
        "src/ns_scan.cc",
        "src/proc_command.cc",
        "src/js/ns_scan_js.cc",
        "src/child/pause_program.cc",
        "src/child/program_cgroup.cc",
        "src/child/cgroup_pool.cc",
        "src/child/program_watch.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": ["NAPI_VERSION=8"],
      "include_dirs": ["src"],
      "cflags": ["-Wall", "-Wextra"],
      "cflags_cc": ["-Wall", "-Wextra", "-std=gnu++17"]
    },
    {
      "target_name": "lxnsd-pause",
      "type": "executable",
      "sources": ["src/child/pause_main.c"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-ffreestanding", "-fno-stack-protector",
                 "-fno-pie", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables"],
      "ldflags": ["-nostdlib", "-static", "-no-pie", "-Wl,--build-id=none"]
    },
    {
      "target_name": "lxnsd-spawn-floor",
      "type": "executable",
      "sources": ["src/bench/spawn_floor.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
