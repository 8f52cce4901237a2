/**
 * The namespace table of native/lib: names and CLONE_NEW* flags, plain
 * numbers and strings (nothing from api/). Checked against the addon's
 * table at load (./addon.ts).
 */

/** The name of a namespace type under /proc/PID/ns/. */
export type NsTypeName = "user" | "cgroup" | "ipc" | "net" | "mnt" | "pid" | "time" | "uts";

/**
 * The ordered namespace table, in join order (USER first, because joining
 * the user namespace grants the capabilities needed to join the others).
 * Plain names and CLONE_NEW* flags, checked against the C++ table at load;
 * the API's table (api/namespace-types.ts) is checked against this one by
 * the server (server/namespaces/info.ts).
 */
export const NS_TYPES: ReadonlyArray<{ readonly name: NsTypeName; readonly flag: number }> = [
  { name: "user", flag: 0x10000000 },
  { name: "cgroup", flag: 0x02000000 },
  { name: "ipc", flag: 0x08000000 },
  { name: "net", flag: 0x40000000 },
  { name: "mnt", flag: 0x00020000 },
  { name: "pid", flag: 0x20000000 },
  { name: "time", flag: 0x00000080 },
  { name: "uts", flag: 0x04000000 },
];

function flagOf(name: NsTypeName): number {
  return NS_TYPES.find((type) => type.name === name)!.flag;
}

/** CLONE_NEW* flags: the setns nstype, unshare flag and NS_GET_NSTYPE value. */
export const CLONE_NEWUSER = flagOf("user");
export const CLONE_NEWCGROUP = flagOf("cgroup");
export const CLONE_NEWIPC = flagOf("ipc");
export const CLONE_NEWNET = flagOf("net");
export const CLONE_NEWNS = flagOf("mnt");
export const CLONE_NEWPID = flagOf("pid");
export const CLONE_NEWTIME = flagOf("time");
export const CLONE_NEWUTS = flagOf("uts");

/** Every CLONE_NEW* flag of NS_TYPES. */
export const ALL_NS_FLAGS = NS_TYPES.reduce((acc, t) => acc | t.flag, 0);
/** The names holdNs accepts: every type, the two *_for_children, and "root" (an O_PATH fd of /proc/CHILD/root). */
export const HOLDABLE_NS_NAMES: ReadonlySet<string> = new Set<string>([...NS_TYPES.map((t) => t.name), "pid_for_children", "time_for_children", "root"]);
