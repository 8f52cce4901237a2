// What the daemon takes as a namespace path, and where it keeps pins: shared
// by the daemon (which enforces it) and lxnsctl (which checks a path before
// any call).

/** What a pin name may be (Pin): one path component, never "." or "..", at most 64 bytes. */
export const PIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The namespace files of a process: /proc/PID/ns/TYPE, /proc/self/ns/TYPE, /proc/thread-self/ns/TYPE. */
export const PROC_NS_PATH = /^\/proc\/([1-9][0-9]{0,9}|self|thread-self)\/ns\/(user|cgroup|ipc|net|mnt|pid|time|uts|pid_for_children|time_for_children)$/;

/** The daemon's default --state-dir: pins are `<dir>/ns/NAME`. */
export const DEFAULT_STATE_DIR = "/run/lxnsd";

/** The daemon's default --netns-dir, where network namespaces are pinned for `ip netns` too. */
export const DEFAULT_NETNS_DIR = "/run/netns";
