import { readFile, writeFile } from "node:fs/promises";
import { status } from "@grpc/grpc-js";
import { NamespaceType } from "../../api/gen/lxnsd/v1/types_pb";
import type { NamespaceRef } from "../../api/gen/lxnsd/v1/types_pb";
import { kindOf } from "../../api/namespace-types";
import * as native from "../../native/lib";
import { RpcError, invalidArgument, nativeCall } from "../errors";
import type { Caller } from "../auth/caller";
import { checkDaemonNamespaces } from "../auth/target-guard";
import { ownUserNamespaceId } from "./info";
import type { NamespaceResolver } from "./resolver";

/** The largest value the kernel takes (the sysctl is an int bounded by INT_MAX). */
const MAX_LIMIT = 2147483647;
/** A bad value written to the sysctl is the caller's mistake, not a wrong namespace type. */
const WRITE_OVERRIDES = { EINVAL: status.INVALID_ARGUMENT };

/**
 * /proc/sys/user/max_<type>_namespaces, as lxns get_current_limit and
 * set_current_limit. The kernel shows the values of the reader's own user
 * namespace, so the daemon's own limits are read in-process (also when a
 * reference names it, e.g. by a process in it: no process can setns into
 * its own user namespace) and those of another user namespace in a child
 * that joins it first.
 */
export class NamespaceLimits {
  constructor(
    private readonly resolver: NamespaceResolver,
    private readonly childTimeoutMs: number,
  ) {}

  /** The limit of `type` in `userNamespace` (unset: the daemon's own); `signal` (the call's) kills the child. */
  async get(type: NamespaceType, userNamespace: NamespaceRef | undefined, caller: Caller, signal?: AbortSignal): Promise<bigint> {
    const file = limitFile(type);
    if (!userNamespace) {
      checkOwnUserNamespace(caller);
      return parseLimit(await readOwn(file), file);
    }
    return this.inUserNamespace(userNamespace, file, undefined, caller, signal);
  }

  /** Sets the limit and returns the value then in force; `signal` (the call's) kills the child. */
  async set(type: NamespaceType, value: bigint, userNamespace: NamespaceRef | undefined, caller: Caller, signal?: AbortSignal): Promise<bigint> {
    const file = limitFile(type);
    if (value < 0n || value > BigInt(MAX_LIMIT)) throw invalidArgument(`value: must be between 0 and ${MAX_LIMIT}, got ${value}`);
    if (!userNamespace) {
      checkOwnUserNamespace(caller);
      await nativeCall(`write ${file}`, () => writeFile(file, `${value}\n`), WRITE_OVERRIDES);
      return parseLimit(await readOwn(file), file);
    }
    return this.inUserNamespace(userNamespace, file, `${value}\n`, caller, signal);
  }

  private async inUserNamespace(ref: NamespaceRef, file: string, write: string | undefined, caller: Caller, signal: AbortSignal | undefined): Promise<bigint> {
    const userns = this.resolver.resolve(ref, "user_namespace", caller, { defaultType: NamespaceType.USER });
    try {
      if (userns.kind.type !== NamespaceType.USER) {
        throw new RpcError(status.FAILED_PRECONDITION, `user_namespace: ${userns.label} is a ${userns.kind.name} namespace, not user`, "WRONG_NAMESPACE_TYPE");
      }
      if (native.nsStat(userns.fd).ino === ownUserNamespaceId()) {
        // The daemon's own (named by a process in it): a child could not join it (setns EINVAL), nor needs to.
        // Allowed exactly as when no reference names it.
        checkOwnUserNamespace(caller);
        if (write !== undefined) await nativeCall(`write ${file}`, () => writeFile(file, write), WRITE_OVERRIDES);
        return parseLimit(await readOwn(file), file);
      }
      const spec = {
        join: [{ fd: userns.fd, nstype: userns.kind.flag }],
        writeFile: write === undefined ? undefined : { path: file, data: write },
        readFile: { path: file, maxBytes: 64 },
        timeoutMs: this.childTimeoutMs,
      };
      const what = `${write === undefined ? "read" : "write"} ${file} in ${userns.label}`;
      const result = await nativeCall(what, () => native.runChild(spec, { signal }), WRITE_OVERRIDES);
      return parseLimit(result.data?.toString() ?? "", file);
    } finally {
      userns.release();
    }
  }
}

/** The daemon's own user namespace is a target like any other for a restricted caller. */
function checkOwnUserNamespace(caller: Caller): void {
  checkDaemonNamespaces(caller, [kindOf(NamespaceType.USER)!], "the daemon's user namespace");
}

function limitFile(type: NamespaceType): string {
  const kind = kindOf(type);
  if (!kind) throw invalidArgument(`type: a namespace type is required, got ${type}`);
  return `/proc/sys/user/max_${kind.name}_namespaces`;
}

async function readOwn(file: string): Promise<string> {
  return nativeCall(`read ${file}`, () => readFile(file, "utf8"));
}

function parseLimit(text: string, file: string): bigint {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) throw new RpcError(status.INTERNAL, `${file} holds ${JSON.stringify(trimmed)}, not a number`);
  return BigInt(trimmed);
}
