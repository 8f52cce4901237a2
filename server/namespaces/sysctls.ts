import { status } from "@grpc/grpc-js";
import { NamespaceType } from "../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceRef } from "../../api/gen/lxnsd/v1/types_pb";
import * as native from "../../native/lib";
import type { Caller } from "../auth/caller";
import { RpcError, invalidArgument, nativeCall } from "../errors";
import type { NamespaceResolver, ResolvedNamespace } from "./resolver";
import { isRestricted, targetForbidden } from "../auth/target-guard";
import { openTargetProcess } from "../auth/target-context";
import type { TargetProcess } from "../auth/target-context";

/** Most bytes a sysctl value holds (a page, as /proc/sys gives at most). */
const MAX_VALUE_BYTES = 4096;
/** A bad value written is the caller's mistake; a name the kernel lacks is NOT_FOUND. */
const WRITE_OVERRIDES = { EINVAL: status.INVALID_ARGUMENT, ERANGE: status.INVALID_ARGUMENT, EISDIR: status.INVALID_ARGUMENT };
/** One name component: what /proc/sys entries are made of (interface names too: "eth0", "veth-a.1"). */
const COMPONENT = /^[A-Za-z0-9_@:+-][A-Za-z0-9_.@:+-]*$/;

/** The namespace type each sysctl belongs to, by the slashed name's prefix. */
function typeOfSysctl(slashed: string): NamespaceType | undefined {
  if (slashed.startsWith("net/")) return NamespaceType.NET;
  if (slashed === "kernel/hostname" || slashed === "kernel/domainname") return NamespaceType.UTS;
  if (/^kernel\/(shm[^/]*|msg[^/]*|sem)$/.test(slashed) || slashed.startsWith("fs/mqueue/")) return NamespaceType.IPC;
  if (slashed.startsWith("user/")) return NamespaceType.USER;
  return undefined;
}

/**
 * `name` (dotted "net.ipv4.ip_forward" or slashed "net/ipv4/ip_forward")
 * as a path under /proc/sys, checked: components of letters, digits and
 * "_-@:+" (a slashed name's components may hold dots: interface names),
 * no empty, "." or ".." component. INVALID_ARGUMENT otherwise.
 */
export function sysctlPath(name: string): string {
  if (name.length === 0 || name.length > 256) throw invalidArgument("name: a sysctl name of 1 to 256 characters is required");
  const slashed = name.includes("/") ? name.replace(/^\/+/, "") : name.replace(/\./g, "/");
  const parts = slashed.split("/");
  if (parts.some((part) => part === "" || part === "." || part === ".." || !COMPONENT.test(part))) {
    throw invalidArgument(`name: ${JSON.stringify(name)} is not a sysctl name`);
  }
  return parts.join("/");
}

/**
 * The process a restricted caller's sysctl call acts as: the one its
 * reference names (a pid, /proc/PID/ns/TYPE, a handle or pin made from a
 * running process), pinned and checked, whose namespace of that type must
 * be the one referenced. None: PERMISSION_DENIED (TARGET_FORBIDDEN).
 */
function targetOf(ns: ResolvedNamespace, caller: Caller): TargetProcess {
  if (ns.origin === undefined || ns.originGone) throw targetForbidden(caller, `${ns.label}: a sysctl needs a process to act as (a pid, or a handle or pin made from a running process)`);
  const target = openTargetProcess(caller, ns.origin, `process ${ns.origin}`);
  if (target.namespaces.get(ns.kind.name) !== native.nsStat(ns.fd).ino) {
    target.close();
    throw targetForbidden(caller, `${ns.label}: not the ${ns.kind.name} namespace of process ${ns.origin}`);
  }
  return target;
}

/** The dotted form of a slashed name, for messages. */
const dotted = (slashed: string) => slashed.replace(/\//g, ".");

/**
 * Sysctls of one namespace, read and written where the kernel takes them
 * from that namespace: through /proc/sys opened by a per-request child that
 * joined it (the daemon never calls setns). Only names that belong to the
 * namespace's type are allowed.
 */
export class NamespaceSysctls {
  constructor(
    private readonly resolver: NamespaceResolver,
    private readonly childTimeoutMs: number,
  ) {}

  /** The value (without its trailing newline). */
  get(ref: NamespaceRef | undefined, name: string, caller: Caller, signal: AbortSignal): Promise<string> {
    return this.run(ref, name, undefined, caller, signal);
  }

  /** Writes `value`, then reads back the value in force. */
  set(ref: NamespaceRef | undefined, name: string, value: string, caller: Caller, signal: AbortSignal): Promise<string> {
    if (value.includes("\0") || Buffer.byteLength(value) > MAX_VALUE_BYTES) throw invalidArgument(`value: at most ${MAX_VALUE_BYTES} bytes, without NUL`);
    return this.run(ref, name, value.endsWith("\n") ? value : `${value}\n`, caller, signal);
  }

  private async run(ref: NamespaceRef | undefined, name: string, write: string | undefined, caller: Caller, signal: AbortSignal): Promise<string> {
    const slashed = sysctlPath(name);
    const needed = typeOfSysctl(slashed);
    if (needed === undefined) {
      throw invalidArgument(`name: ${dotted(slashed)} belongs to no namespace type (net.*; kernel.hostname, kernel.domainname; kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*; user.*)`);
    }
    const restricted = isRestricted(caller);
    const ns = this.resolver.resolve(ref, "ref", caller, { defaultType: needed, originStartTime: restricted });
    try {
      if (ns.kind.type !== needed) {
        throw invalidArgument(`name: ${dotted(slashed)} is a sysctl of the ${NamespaceType[needed].toLowerCase()} namespace, and ref is a ${ns.kind.name} namespace`);
      }
      const file = `/proc/sys/${slashed}`;
      const target = restricted ? targetOf(ns, caller) : undefined;
      try {
        const spec = {
          // A restricted caller's child becomes its target (all of its namespaces, its credentials, its /proc).
          ...(target ? { target: target.spec } : { join: [{ fd: ns.fd, nstype: ns.kind.flag }] }),
          ...(write === undefined ? {} : { writeFile: { path: file, data: write } }),
          readFile: { path: file, maxBytes: MAX_VALUE_BYTES },
          timeoutMs: this.childTimeoutMs,
        };
        const what = `${write === undefined ? "read" : "write"} ${dotted(slashed)} in ${ns.label}`;
        const result = await nativeCall(what, () => native.runChild(spec, { signal }), write === undefined ? { EISDIR: status.INVALID_ARGUMENT } : WRITE_OVERRIDES);
        return (result.data?.toString() ?? "").replace(/\n$/, "");
      } finally {
        target?.close();
      }
    } catch (err) {
      if (err instanceof RpcError && err.code === status.NOT_FOUND && err.reason === "ENOENT") {
        throw new RpcError(status.NOT_FOUND, `no sysctl ${dotted(slashed)} in ${NamespaceType[needed].toLowerCase()} namespaces`, "ENOENT", err.metadata);
      }
      throw err;
    } finally {
      ns.release();
    }
  }
}
