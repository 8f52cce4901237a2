/** The names of the per-request child's steps, as the addon exports them (checked at load, ./addon.ts). */

/**
 * The step names a NativeError's `step` carries (the addon's STEP_NAMES:
 * the child's steps, then the daemon's own on a child), for comparing
 * without string literals. A failed join is `setns <type>` (STEP.setns,
 * a space and the NS_TYPES name).
 */
export const STEP = {
  start: "start",
  resetSignals: "reset signals",
  joinTargetCgroups: "join target cgroups",
  takeTargetIds: "take target ids",
  setnsTarget: "setns target",
  takeTargetCapabilities: "take target capabilities",
  setns: "setns",
  unshare: "unshare",
  makePrivate: "make / private",
  writeUidMap: "write uid_map",
  writeTimensOffsets: "write timens_offsets",
  startPidInit: "start pid init",
  execPause: "exec pause",
  sethostname: "sethostname",
  loopbackUp: "loopback up",
  writeFile: "write file",
  readFile: "read file",
  createTarget: "create target",
  moveMount: "move_mount",
  debugSleep: "debug sleep",
  openNs: "open ns",
  startProgram: "start program",
  setpgid: "setpgid",
  mountProc: "mount proc",
  openTerminal: "open terminal",
  chdir: "chdir",
  setCredentials: "set credentials",
  stdio: "stdio",
  execve: "execve",
  done: "done",
  writeSetgroups: "write setgroups",
  writeGidMap: "write gid_map",
  createCgroup: "create cgroup",
} as const;

/** One of the step names (setns failures add " <type>"). */
export type StepName = (typeof STEP)[keyof typeof STEP];
