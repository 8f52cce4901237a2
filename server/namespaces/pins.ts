import { closeSync, lstatSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { status } from "@grpc/grpc-js";
import type { NamespaceRef } from "../../api/gen/lxnsd/v1/types_pb";
import { NamespaceType } from "../../api/gen/lxnsd/v1/types_pb";
import * as native from "../../native/lib";
import { RpcError, fromErrno, invalidArgument, isErrnoLike, nativeCall } from "../errors";
import { PIN_NAME } from "../../api/pin-paths";
import type { Caller } from "../auth/caller";
import type { HandleOrigin } from "./handle-table";
import type { NamespaceResolver } from "./resolver";


/** Where pins live. */
export interface PinDirs {
  /** `<state dir>/ns`: every pin. */
  ns: string;
  /** `<state dir>/pin-owners`: per pin, a file naming the identity (Caller.key) that made it. */
  owners: string;
  /** Where network namespaces are pinned as well, for `ip netns`; undefined = nowhere else. */
  netns?: string;
  /** `<state dir>/pin-origins`: per pin made from a process, "PID STARTTIME" (see ResolvedNamespace.origin). */
  origins: string;
}

/** The pin directories of a daemon with this state dir and netns dir ("" = none). */
export function pinDirs(stateDir: string, netnsDir: string): PinDirs {
  return { ns: path.join(stateDir, "ns"), owners: path.join(stateDir, "pin-owners"), origins: path.join(stateDir, "pin-origins"), ...(netnsDir ? { netns: netnsDir } : {}) };
}

/**
 * The process pin `file` (`<dirs.ns>/NAME`, or its twin `<dirs.netns>/NAME`)
 * was made from, as recorded when it was made; undefined for other paths
 * and for pins made otherwise.
 */
export function pinOrigin(dirs: PinDirs, file: string): HandleOrigin | undefined {
  const name = path.basename(file);
  const dir = path.dirname(file);
  if (!PIN_NAME.test(name)) return undefined;
  if (dir !== dirs.ns && !(dir === dirs.netns && sameFile(file, path.join(dirs.ns, name)))) return undefined;
  try {
    const [pid, startTime] = readFileSync(path.join(dirs.origins, name), "utf8").trim().split(" ");
    return Number(pid) > 0 && startTime ? { pid: Number(pid), startTime } : undefined;
  } catch {
    return undefined;
  }
}

function checkName(name: string): void {
  if (!PIN_NAME.test(name)) throw invalidArgument(`name: ${JSON.stringify(name)} must match ${PIN_NAME.source}`);
}

/** A pin that is already there is ALREADY_EXISTS. */
const PIN_OVERRIDES = { EEXIST: status.ALREADY_EXISTS };

function asRpc(err: unknown, what: string): unknown {
  return isErrnoLike(err) ? fromErrno(err, what, PIN_OVERRIDES) : err;
}

function exists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch (err) {
    if (isErrnoLike(err) && err.code === "ENOENT") return false;
    throw asRpc(err, `lstat ${file}`);
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

/**
 * Pins: namespaces bind-mounted on files, the way `ip netns add` does, so
 * they outlive handles and the daemon and other tools (`nsenter --net=FILE`,
 * `ip netns exec`) can use them. Every pin is `<dirs.ns>/<name>`; a network
 * namespace is pinned at `<dirs.netns>/<name>` too. Each directory is made a
 * shared mount point first (as `ip netns` does with /run/netns) so pins
 * reach mount namespaces copied from the daemon's later. Mounts are made in
 * the daemon's own mount namespace: no namespace change, no fork.
 * A pin belongs to the identity that made it, as a handle does: its key is
 * kept in `<dirs.owners>/<name>` (a pin has no room for it: its file is the
 * namespace), so that it holds across restarts; only that identity may
 * unpin it. A pin without that file (made by an older lxnsd, or by hand)
 * may be unpinned by any caller with the admin scope.
 */
export class NamespacePins {
  private readonly prepared = new Set<string>();

  constructor(
    private readonly resolver: NamespaceResolver,
    readonly dirs: PinDirs,
  ) {}

  /**
   * Pins the namespace `ref` names as `name`; returns `<dirs.ns>/<name>`.
   * INVALID_ARGUMENT for a bad name, ALREADY_EXISTS when the name is taken
   * (in either directory); nothing is left behind on any failure.
   */
  pin(ref: NamespaceRef | undefined, name: string, caller: Caller): string {
    checkName(name);
    const ns = this.resolver.resolve(ref, "ref", caller);
    try {
      const files = [path.join(this.dirs.ns, name)];
      if (ns.kind.type === NamespaceType.NET && this.dirs.netns) files.push(path.join(this.dirs.netns, name));
      for (const file of files) {
        if (exists(file)) throw new RpcError(status.ALREADY_EXISTS, `pin ${name}: ${file} exists`, "ALREADY_EXISTS");
      }
      const done: string[] = [];
      try {
        this.recordOwner(name, caller);
        this.recordOrigin(name, ns.origin, ns.originStartTime);
        for (const file of files) {
          this.prepare(path.dirname(file));
          this.mountOn(ns.fd, file);
          done.push(file);
        }
      } catch (err) {
        done.forEach((file) => this.remove(file));
        unlinkQuietly(path.join(this.dirs.owners, name));
        unlinkQuietly(path.join(this.dirs.origins, name));
        throw err;
      }
      return files[0];
    } finally {
      ns.release();
    }
  }

  /**
   * Undoes pin(name): unmounts and removes `<dirs.ns>/<name>`, and the
   * `<dirs.netns>/<name>` of the same namespace if there is one.
   * INVALID_ARGUMENT for a bad name, NOT_FOUND for a name never pinned,
   * PERMISSION_DENIED (PIN_NOT_YOURS) for a pin another identity made.
   */
  unpin(name: string, caller: Caller): void {
    checkName(name);
    const file = path.join(this.dirs.ns, name);
    if (!exists(file)) throw new RpcError(status.NOT_FOUND, `no pin named ${name}`, "NOT_FOUND");
    const owner = this.ownerOf(name);
    if (owner !== undefined && owner !== caller.key) {
      throw new RpcError(status.PERMISSION_DENIED, `pin ${name} belongs to another identity`, "PIN_NOT_YOURS");
    }
    if (this.dirs.netns) {
      const twin = path.join(this.dirs.netns, name);
      if (exists(twin) && sameFile(file, twin)) this.remove(twin);
    }
    this.remove(file);
    unlinkQuietly(path.join(this.dirs.owners, name));
    unlinkQuietly(path.join(this.dirs.origins, name));
  }

  /** Writes `<dirs.origins>/<name>` for a pin made from a process; removes a stale one otherwise. */
  private recordOrigin(name: string, pid: number | undefined, startTime: string | undefined): void {
    const file = path.join(this.dirs.origins, name);
    if (pid === undefined || startTime === undefined) {
      unlinkQuietly(file);
      return;
    }
    nativeCall(
      `record the origin of pin ${name}`,
      () => {
        mkdirSync(this.dirs.origins, { recursive: true, mode: 0o700 });
        writeFileSync(file, `${pid} ${startTime}\n`, { mode: 0o600 });
      },
      PIN_OVERRIDES,
    );
  }

  /** Writes `<dirs.owners>/<name>` (replacing one a crash left behind). */
  private recordOwner(name: string, caller: Caller): void {
    nativeCall(
      `record the owner of pin ${name}`,
      () => {
        mkdirSync(this.dirs.owners, { recursive: true, mode: 0o700 });
        writeFileSync(path.join(this.dirs.owners, name), caller.key, { mode: 0o600 });
      },
      PIN_OVERRIDES,
    );
  }

  /** The key of the identity that made pin `name`, or undefined when none was recorded. */
  private ownerOf(name: string): string | undefined {
    try {
      return readFileSync(path.join(this.dirs.owners, name), "utf8");
    } catch (err) {
      if (isErrnoLike(err) && err.code === "ENOENT") return undefined;
      throw asRpc(err, `read the owner of pin ${name}`);
    }
  }

  /** mkdir -p and make it a shared mount point, once per daemon. */
  private prepare(dir: string): void {
    if (this.prepared.has(dir)) return;
    nativeCall(
      `prepare ${dir}`,
      () => {
        mkdirSync(dir, { recursive: true, mode: 0o755 });
        native.makeSharedMountPoint(dir);
      },
      PIN_OVERRIDES,
    );
    this.prepared.add(dir);
  }

  /** An empty file (as ip netns creates), then the nsfs file bound on it. */
  private mountOn(fd: number, file: string): void {
    nativeCall(`create ${file}`, () => closeSync(openSync(file, "wx", 0o444)), PIN_OVERRIDES);
    try {
      native.bindMountPath(`/proc/self/fd/${fd}`, file);
    } catch (err) {
      unlinkQuietly(file);
      throw asRpc(err, `bind-mount onto ${file}`);
    }
  }

  /** Lazily unmounts a pin and removes its file; a file that is no mount (left by a crash) is just removed. */
  private remove(file: string): void {
    try {
      native.unmountDetach(file);
    } catch (err) {
      if (!(isErrnoLike(err) && err.code === "EINVAL")) throw asRpc(err, `unmount ${file}`);
    }
    try {
      unlinkSync(file);
    } catch (err) {
      if (!(isErrnoLike(err) && err.code === "ENOENT")) throw asRpc(err, `remove ${file}`);
    }
  }
}

/** Whether two paths reach the same file (the same namespace, for two pins). */
function sameFile(a: string, b: string): boolean {
  try {
    const x = statSync(a, { bigint: true });
    const y = statSync(b, { bigint: true });
    return x.ino === y.ino && x.dev === y.dev;
  } catch {
    return false;
  }
}
