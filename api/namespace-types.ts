import { NamespaceType } from "./gen/lxnsd/v1/types_pb";

/** One namespace type as every layer names it. */
export interface NamespaceKind {
  type: NamespaceType;
  /** The file under /proc/PID/ns/ and the suffix of /proc/sys/user/max_<name>_namespaces. */
  name: string;
  /** The CLONE_NEW* flag of clone(2), unshare(2) and setns(2). */
  flag: number;
  /** The file under /proc/PID/ns/ that a new namespace of this type is held through. */
  heldAs: string;
}

/**
 * The eight types in lxns's join order (ALL_NAMESPACE_CLASSES), which is also
 * the proto enum order and the native table's order: user first, because
 * joining the user namespace grants the capabilities needed to join the rest.
 * Pid and time namespaces only take effect for children, so a new one is held
 * through pid_for_children / time_for_children.
 */
export const NAMESPACE_KINDS: readonly NamespaceKind[] = [
  { type: NamespaceType.USER, name: "user", flag: 0x10000000, heldAs: "user" },
  { type: NamespaceType.CGROUP, name: "cgroup", flag: 0x02000000, heldAs: "cgroup" },
  { type: NamespaceType.IPC, name: "ipc", flag: 0x08000000, heldAs: "ipc" },
  { type: NamespaceType.NET, name: "net", flag: 0x40000000, heldAs: "net" },
  { type: NamespaceType.MNT, name: "mnt", flag: 0x00020000, heldAs: "mnt" },
  { type: NamespaceType.PID, name: "pid", flag: 0x20000000, heldAs: "pid_for_children" },
  { type: NamespaceType.TIME, name: "time", flag: 0x00000080, heldAs: "time_for_children" },
  { type: NamespaceType.UTS, name: "uts", flag: 0x04000000, heldAs: "uts" },
];

/** The kind of a NamespaceType, or undefined for UNSPECIFIED and unknown values. */
export function kindOf(type: NamespaceType): NamespaceKind | undefined {
  return NAMESPACE_KINDS.find((kind) => kind.type === type);
}

/** The kind whose CLONE_NEW* flag is `flag`, as NS_GET_NSTYPE reports it. */
export function kindOfFlag(flag: number): NamespaceKind | undefined {
  return NAMESPACE_KINDS.find((kind) => kind.flag === flag);
}

/** The kind named `name` ("net", "uts", …), case-insensitive. */
export function kindNamed(name: string): NamespaceKind | undefined {
  const lower = name.toLowerCase();
  return NAMESPACE_KINDS.find((kind) => kind.name === lower);
}
