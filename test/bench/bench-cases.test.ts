// Every bench case at a tiny scale against an in-process daemon and floor
// (concurrency 1 and 8 only, to stay quick): keeps the bench code working.
// Numbers are only checked for sanity, never timed.
import type { Server } from "@grpc/grpc-js";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { BenchContext } from "../../bench/cases/context";
import { execMemory } from "../../bench/cases/exec-memory";
import { execStreamCases } from "../../bench/cases/exec-stream";
import { containerCases } from "../../bench/cases/containers";
import { listCases } from "../../bench/cases/list";
import { runCases } from "../../bench/cases/run";
import { unaryCases } from "../../bench/cases/unary";
import { unshareCases } from "../../bench/cases/unshare";
import { floorClient, serveFloor } from "../../bench/floor";
import type { CaseResult } from "../../bench/results";
import { startNetUtsTarget } from "../../bench/targets";
import type { Started } from "../../bench/targets";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { childrenOf, waitFor } from "../helpers/proc";

const SCALE = 0.01;

function expectSane(results: CaseResult[], ids: string[]): void {
  expect(results.map((r) => r.id)).toEqual(ids);
  for (const r of results) {
    expect(r.samples).toBeGreaterThanOrEqual(3);
    expect(r.p50Ms).toBeGreaterThan(0);
    expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms);
    expect(Object.keys(r.rate)).toEqual(["1", "8"]);
    for (const rate of Object.values(r.rate)) expect(rate).toBeGreaterThan(0);
  }
}

describeRoot("bench cases at BENCH_SCALE=0.01", () => {
  let lxnsd: TestDaemon;
  let dir: string;
  let floorServer: Server;
  let floor: ReturnType<typeof floorClient>;
  let target: Started;
  let ctx: BenchContext;
  const children = childrenOf().length;

  beforeAll(async () => {
    lxnsd = await startDaemon();
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-bench-test-"));
    const address = `unix:${path.join(dir, "floor.sock")}`;
    floorServer = await serveFloor(address);
    floor = floorClient(address);
    target = await startNetUtsTarget();
    ctx = { client: lxnsd.client, floor: floor.call, floorRun: floor.spawnTrue(target.pid), daemonPid: process.pid, targetPid: target.pid, scale: SCALE, concurrencies: [1, 8] };
  });

  afterAll(async () => {
    await target.stop();
    floor.close();
    floorServer.forceShutdown();
    await lxnsd.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("times the floor, Inspect, Open+Close and leaves no handle open", async () => {
    expectSane(await unaryCases(ctx), ["floor", "inspect", "open-close"]);
    expect(lxnsd.daemon.handles.size).toBe(0);
  });

  it("times Run and nsenter, Unshare+Close and unshare(1)", async () => {
    expectSane(await runCases(ctx), ["run-true", "nsenter-true", "floor-run", "physical-floor"]);
    expectSane(await unshareCases(ctx), ["unshare-close", "unshare-true"]);
    expect(lxnsd.daemon.handles.size).toBe(0);
  });

  it("streams Exec and nsenter output in MB/s and reads memory around 64 Execs", async () => {
    const streams = await execStreamCases(ctx);
    expectSane(streams, ["exec-stream", "nsenter-stream"]);
    expect(streams.map((s) => s.unit)).toEqual(["MB/s", "MB/s"]);
    const memory = await execMemory(ctx);
    expect(memory.streams).toBe(64);
    expect(memory.hwmMiB).toBeGreaterThanOrEqual(memory.rssPeakSampledMiB - 1);
    expect(memory.rssPeakSampledMiB).toBeGreaterThan(0);
  });

  it("lists with a crowd of extra processes against lsns, then ends the crowd", async () => {
    const { results, processes, groups } = await listCases(ctx);
    expectSane(results, ["list", "lsns"]);
    expect([groups, processes]).toEqual([5, 20]);
    // The crowd's launchers are gone and reaped; the target (+1) is still there.
    await waitFor(() => childrenOf().length === children + 1, 5000, "the crowd to be gone");
    expect(childrenOf().map((c) => c.pid)).toContain(target.pid);
  });

  it("times Inspect by container id against by pid with containers' cgroups, then removes them and the crowd", async () => {
    expectSane(await containerCases(ctx), ["inspect-pid", "inspect-container"]);
    await waitFor(() => childrenOf().length === children + 1, 5000, "the crowd to be gone");
    expect(readdirSync("/sys/fs/cgroup/systemd").filter((name) => name.startsWith("lxnsd-bench-"))).toEqual([]);
  });
});
