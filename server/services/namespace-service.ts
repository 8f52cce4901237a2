import type { MessageInitShape } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import type { Server } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { NamespaceService as NamespaceServiceDesc } from "../../api/gen/lxnsd/v1/namespace_service_pb";
import type {
  CloseRequest,
  GetCurrentNamespacesResponseSchema,
  GetLimitRequest,
  InspectRequest,
  ListNamespacesRequest,
  ListNamespacesResponseSchema,
  OpenRequest,
  SetLimitRequest,
  UnshareRequest,
  WatchNamespacesRequest,
  WatchNamespacesResponseSchema,
} from "../../api/gen/lxnsd/v1/namespace_service_pb";
import { EventKind, NamespaceType } from "../../api/gen/lxnsd/v1/types_pb";
import type { HandleSchema, NamespaceInfo } from "../../api/gen/lxnsd/v1/types_pb";
import { NAMESPACE_KINDS, kindOf } from "../../api/namespace-types";
import * as native from "../../native/lib";
import { durationMs } from "../rpc/durations";
import { RpcError, invalidArgument, nativeCall } from "../errors";
import type { HandleTable } from "../namespaces/handle-table";
import { describeNamespace } from "../namespaces/info";
import { namespacesOfPid, scanRows, toSummary, typeFilter } from "../namespaces/list";
import { ProcessPlaces } from "../containers/process-places";
import { NamespaceWatch } from "../namespaces/watch";
import { visibleRows } from "../namespaces/visible-rows";
import { checkProcess, isRestricted, targetForbidden } from "../auth/target-guard";
import type { NamespaceLimits } from "../namespaces/limits";
import type { NamespaceResolver } from "../namespaces/resolver";
import { addService } from "../rpc/add-service";
import type { RpcHooks } from "../rpc/add-service";
import type { CallContext, ServiceImpl } from "../rpc/service-impl";
import { planUnshare } from "../namespaces/unshare-plan";
import type { DaemonIds } from "../namespaces/unshare-plan";
import type { NamespacePins } from "../namespaces/pins";
import { openTargetProcess } from "../auth/target-context";
import type { TargetProcess } from "../auth/target-context";
import type { PinRequest, UnpinRequest } from "../../api/gen/lxnsd/v1/namespace_service_pb";
import type { GetSysctlRequest, SetSysctlRequest } from "../../api/gen/lxnsd/v1/namespace_service_pb";
import type { NamespaceSysctls } from "../namespaces/sysctls";

/** What the namespace service needs from the daemon. */
export interface NamespaceServiceDeps {
  handles: HandleTable;
  resolver: NamespaceResolver;
  limits: NamespaceLimits;
  /** The uid and gid the daemon runs as (what map_root maps 0 to). */
  ids: DaemonIds;
  childTimeoutMs: number;
  /** Pin and Unpin: bind mounts of namespaces under the state dir. */
  pins: NamespacePins;
  /** GetSysctl and SetSysctl. */
  sysctls: NamespaceSysctls;
}

/** Option values the kernel refuses with EINVAL are the caller's mistake. */
const UNSHARE_OVERRIDES = { EINVAL: status.INVALID_ARGUMENT, ERANGE: status.INVALID_ARGUMENT };

/** WatchNamespaces interval: default and bounds in milliseconds. */
const WATCH_INTERVAL_MS = { default: 1000, min: 100, max: 3600 * 1000 };

/** lxnsd.v1.NamespaceService: the lxns namespace API over gRPC. */
export class NamespaceService implements ServiceImpl<typeof NamespaceServiceDesc> {
  /** The one /proc poller every WatchNamespaces call shares. */
  readonly watch: NamespaceWatch;

  constructor(private readonly deps: NamespaceServiceDeps) {
    // Events name the container and pod of their pid, as ListNamespaces' summaries do.
    this.watch = new NamespaceWatch(scanRows, () => new ProcessPlaces(deps.resolver.cgroupLine()));
  }

  /** Registers this service on `server`. */
  addTo(server: Server, hooks: RpcHooks): void {
    addService(server, NamespaceServiceDesc, this as unknown as Record<string, unknown>, hooks);
  }

  async inspect(request: InspectRequest, context: CallContext) {
    const ns = this.deps.resolver.resolve(request.ref, "ref", context.caller);
    try {
      return { info: ns.describe() };
    } finally {
      ns.release();
    }
  }

  async getCurrentNamespaces(): Promise<MessageInitShape<typeof GetCurrentNamespacesResponseSchema>> {
    const namespaces = NAMESPACE_KINDS.map((kind) => {
      const file = `/proc/self/ns/${kind.name}`;
      const fd = nativeCall(`open ${file}`, () => native.openPath(file));
      try {
        return describeNamespace(fd);
      } finally {
        native.close(fd);
      }
    });
    return { namespaces };
  }

  async *listNamespaces(request: ListNamespacesRequest, context: CallContext): AsyncIterable<MessageInitShape<typeof ListNamespacesResponseSchema>> {
    const types = typeFilter(request.types);
    // A restricted identity names only processes under its cgroups (a no-op without cgroup rules).
    if (request.pid > 0) checkProcess(context.caller, request.pid, `pid ${request.pid}`);
    if (request.pid !== 0 && request.container) throw invalidArgument("pid and container: at most one filter");
    // namespacesOfPid refuses a negative pid; 0 means every process.
    let only = request.pid !== 0 ? namespacesOfPid(request.pid) : undefined;
    if (request.container) {
      const containers = this.deps.resolver.containerTargets("container");
      only = containers.whileChosen(request.container, "container", (pid) => {
        checkProcess(context.caller, pid, `container process ${pid}`);
        return namespacesOfPid(pid);
      });
    }
    const places = new ProcessPlaces(this.deps.resolver.cgroupLine());
    for (const row of await visibleRows(await scanRows(), context.caller)) {
      if (types.has(row.type) && (!only || only.has(row.ino))) yield { summary: { ...toSummary(row), ...(await places.of(row.pid)) } };
    }
  }

  async *watchNamespaces(request: WatchNamespacesRequest, context: CallContext): AsyncIterable<MessageInitShape<typeof WatchNamespacesResponseSchema>> {
    const types = typeFilter(request.types);
    const intervalMs = durationMs(request.interval, "interval") ?? WATCH_INTERVAL_MS.default;
    if (intervalMs < WATCH_INTERVAL_MS.min || intervalMs > WATCH_INTERVAL_MS.max) {
      throw invalidArgument("interval: must be between 100ms and 1h");
    }
    const caller = context.caller;
    const subscription = this.watch.subscribe(intervalMs, isRestricted(caller) ? (rows) => visibleRows(rows, caller) : undefined);
    try {
      for (;;) {
        const events = await subscription.next(context.signal);
        if (events === null) return; // the daemon is shutting down: the stream ends with OK
        for (const event of events) {
          if (!types.has(event.row.type)) continue;
          yield { kind: event.kind === "added" ? EventKind.ADDED : EventKind.REMOVED, summary: { ...toSummary(event.row), ...event.place } };
        }
      }
    } finally {
      subscription.close();
    }
  }

  async open(request: OpenRequest, context: CallContext) {
    const owner = context.caller.key;
    const leaseMs = this.deps.handles.leaseMs(durationMs(request.lease, "lease"));
    this.deps.handles.reserve(1, owner);
    const ns = this.deps.resolver.resolve(request.ref, "ref", context.caller);
    try {
      // describe() opens fds of its own (NS_GET_USERNS, NS_GET_PARENT) and may fail with EMFILE: before the handle's fd exists.
      const info = ns.describe();
      // The handle owns a fd of its own, independent of how the ref was reached.
      const origin = ns.origin !== undefined && ns.originStartTime !== undefined ? { pid: ns.origin, startTime: ns.originStartTime } : undefined;
      return { handle: this.deps.handles.add(owner, native.openPath(`/proc/self/fd/${ns.fd}`), info, leaseMs, [], origin) };
    } finally {
      ns.release();
    }
  }

  async close(request: CloseRequest, context: CallContext) {
    this.deps.handles.close(request.handle, context.caller.key);
    return {};
  }

  async unshare(request: UnshareRequest, context: CallContext) {
    const leaseMs = this.deps.handles.leaseMs(durationMs(request.lease, "lease"));
    const caller = context.caller;
    planUnshare(request.types, request.options, this.deps.ids); // INVALID_ARGUMENT before anything is opened
    const owner = caller.key;
    const target = this.openUnshareTarget(request, caller);
    let result: native.ChildResult;
    let plan: ReturnType<typeof planUnshare>;
    try {
      const forbid = isRestricted(caller) ? (what: string) => targetForbidden(caller, what) : undefined;
      plan = planUnshare(request.types, request.options, this.deps.ids, undefined, target && { uid: target.uidInside, gid: target.gidInside, forbid });
      this.deps.handles.reserve(plan.kinds.length, owner);
      const holdNs = plan.kinds.map((kind) => kind.heldAs);
      const spec = { ...plan.spec, ...(target ? { target: target.spec } : {}), holdNs, timeoutMs: this.deps.childTimeoutMs };
      const what = `unshare ${request.types.map((type) => kindOf(type)?.name ?? type).join("+")}`;
      result = await nativeCall(what, () => native.runChild(spec, { signal: context.signal }), UNSHARE_OVERRIDES);
    } finally {
      target?.close();
    }
    const origin = target ? { pid: target.pid, startTime: target.startTime } : undefined;
    // A new pid namespace lives only while its init (the keeper) does: the keeper goes with the pid handle.
    const extraFds = plan.kinds.map((kind) => (kind.type === NamespaceType.PID && result.keeper ? [result.keeper.fd] : []));
    const release = () => [...result.fds, ...extraFds.flat()].forEach((fd) => native.close(fd));
    if (context.signal.aborted) {
      release();
      throw new RpcError(status.CANCELLED, "the call was cancelled; the new namespaces were released");
    }
    let infos: NamespaceInfo[];
    try {
      infos = result.fds.map(describeNamespace);
    } catch (err) {
      release();
      throw err;
    }
    const handles: MessageInitShape<typeof HandleSchema>[] = [];
    try {
      result.fds.forEach((fd, index) => handles.push(this.deps.handles.add(owner, fd, infos[index], leaseMs, extraFds[index], origin)));
    } catch (err) {
      // add() closed the fds it refused; release the ones before and after them.
      handles.forEach((handle) => this.deps.handles.close(handle.id as string, owner));
      result.fds.slice(handles.length + 1).forEach((fd) => native.close(fd));
      extraFds.slice(handles.length + 1).flat().forEach((fd) => native.close(fd));
      throw err;
    }
    context.log.info({ handles: handles.map((handle) => handle.id), types: plan.kinds.map((kind) => kind.name) }, "unshared namespaces");
    return { handles };
  }

  /**
   * Unshare's target: the process the new namespaces start from (see
   * UnshareRequest.target). Required for a caller with target rules.
   */
  private openUnshareTarget(request: UnshareRequest, caller: CallContext["caller"]): TargetProcess | undefined {
    if (!request.target) {
      if (isRestricted(caller)) throw targetForbidden(caller, "new namespaces without a target (UnshareRequest.target names the process they start from)");
      return undefined;
    }
    const { pid, startTime } = this.deps.resolver.resolveProcess(request.target, "target", caller);
    const target = openTargetProcess(caller, pid, `process ${pid}`);
    if (startTime !== undefined && startTime !== target.startTime) {
      target.close();
      throw isRestricted(caller) ? targetForbidden(caller, `target: process ${pid} was replaced`) : invalidArgument(`target: process ${pid} was replaced`);
    }
    return target;
  }

  async getLimit(request: GetLimitRequest, context: CallContext) {
    return { value: await this.deps.limits.get(request.type, request.userNamespace, context.caller, context.signal) };
  }

  async setLimit(request: SetLimitRequest, context: CallContext) {
    const value = await this.deps.limits.set(request.type, request.value, request.userNamespace, context.caller, context.signal);
    context.log.info({ type: request.type, value: value.toString() }, "namespace limit set");
    return { value };
  }

  async getSysctl(request: GetSysctlRequest, context: CallContext) {
    return { value: await this.deps.sysctls.get(request.ref, request.name, context.caller, context.signal) };
  }

  async setSysctl(request: SetSysctlRequest, context: CallContext) {
    const value = await this.deps.sysctls.set(request.ref, request.name, request.value, context.caller, context.signal);
    context.log.info({ sysctl: request.name, value }, "sysctl set");
    return { value };
  }

  async pin(request: PinRequest, context: CallContext) {
    const path = this.deps.pins.pin(request.ref, request.name, context.caller);
    context.log.info({ name: request.name, path }, "namespace pinned");
    return { path };
  }

  async unpin(request: UnpinRequest, context: CallContext) {
    this.deps.pins.unpin(request.name, context.caller);
    context.log.info({ name: request.name }, "namespace unpinned");
    return {};
  }
}
