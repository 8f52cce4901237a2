// What every case gets: the daemon and floor under test, a target, the scale.
import type { LxnsdClient } from "../../client";
import { NamespaceType } from "../../client";
import type { Concurrency } from "../results";
import type { Operation } from "../stats";

export interface BenchContext {
  /** A client of the daemon under test. */
  client: LxnsdClient;
  /** One empty grpc-js unary call to the floor server. */
  floor: Operation;
  /** One floor Run: the floor server's addon starts /usr/bin/true in the target's net+uts (see floor.ts). */
  floorRun: Operation;
  /** The daemon's pid, for its memory. */
  daemonPid: number;
  /** A process in net and uts namespaces of its own. */
  targetPid: number;
  /** BENCH_SCALE: multiplies every count and size. */
  scale: number;
  /** Concurrencies to drive the cases at; all of CONCURRENCIES unless a test wants fewer. */
  concurrencies?: readonly Concurrency[];
}

/** ExecSpec.join for the net and uts namespaces of `pid`. */
export function joinNetUts(pid: number) {
  return [NamespaceType.NET, NamespaceType.UTS].map((type) => ({ type, source: { case: "pid" as const, value: pid } }));
}

/** Bytes in a megabyte, as MB/s counts them. */
export const MB = 1e6;
export const MiB = 1024 * 1024;
