import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NamespaceType, status } from "../../../client";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { describeRoot } from "../../helpers/privileged";
import { startTarget } from "../../helpers/targets";
import type { Target } from "../../helpers/targets";
import { itUnless } from "../../helpers/visible-skip";

const mount = (pid: number) => ({ type: NamespaceType.MNT, source: { case: "pid" as const, value: pid } });
const fdCount = () => readdirSync("/proc/self/fd").length;
const threadCount = () => readdirSync("/proc/self/task").length;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** libuv's default pool: more hung calls than this would have stalled every fs call of the daemon. */
const POOL_THREADS = Number(process.env.UV_THREADPOOL_SIZE ?? 4);

/** The status a call ends with ("OK" when it succeeds). */
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "OK";
  } catch (err) {
    return status[(err as { code: status }).code] ?? String(err);
  }
}

async function drain<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item);
  return out;
}

async function* header(value: object, data?: Buffer) {
  yield { msg: { case: "header" as const, value } };
  if (data) yield { msg: { case: "data" as const, value: data } };
}

describeRoot("a FUSE mount that never answers cannot exhaust the daemon's thread pool or event loop", () => {
  let lxnsd: TestDaemon;
  let hungTarget: Target;
  let bindTarget: Target;
  let dir: string;
  let watchdog: ChildProcess | undefined;

  beforeAll(async () => {
    lxnsd = await startDaemon();
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-hungpool-"));
    mkdirSync(path.join(dir, "src"));
    writeFileSync(path.join(dir, "src", "file"), "bound\n");
    writeFileSync(path.join(dir, "ok"), "ok\n");
    if (!existsSync("/dev/fuse")) return;
    // A FUSE mount, in the target's own mount namespace, whose server (fd 3, kept by sleep) never reads /dev/fuse:
    // every lookup in it waits until that fd closes (the connection is then aborted: ENOTCONN).
    const script = `mkdir ${dir}/hung && exec 3<>/dev/fuse && mount -t fuse -o fd=3,rootmode=40000,user_id=0,group_id=0 lxnsd-hung ${dir}/hung && exec "$@"`;
    hungTarget = await startTarget(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]);
    // Should the daemon block its event loop on the mount (the hole this file tests), the FUSE server still ends.
    watchdog = spawn("sh", ["-c", `sleep 25; kill -9 ${hungTarget.pid}`], { stdio: "ignore" });
    bindTarget = await startTarget(["unshare", "--mount", "--propagation", "private", "sh", "-c", `mount -t tmpfs none ${dir}/src && mkdir ${dir}/src/dest && exec "$@"`, "sh"]);
  });
  afterAll(async () => {
    watchdog?.kill("SIGKILL");
    await hungTarget?.kill();
    await bindTarget?.kill();
    await lxnsd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  itUnless(existsSync("/dev/fuse"), "no /dev/fuse")("hung file calls and a hung BindMount source hold slots, answer at their deadline, and leave every other call served", async () => {
    const hung = mount(hungTarget.pid);
    // Warm up: the client's connection, the pool's threads, a first file call.
    await lxnsd.client.stat({ mount: hung, path: `${dir}/ok` });
    await drain(lxnsd.client.readFile({ mount: hung, path: `${dir}/ok` }));
    const fdsBefore = fdCount();
    const threadsBefore = threadCount();

    const timeoutMs = 1500;
    const hungCalls = [
      ...Array.from({ length: POOL_THREADS }, (_, i) => drain(lxnsd.client.readFile({ mount: hung, path: `${dir}/hung/r${i}` }, { timeoutMs }))),
      lxnsd.client.stat({ mount: hung, path: `${dir}/hung/s` }, { timeoutMs }),
      drain(lxnsd.client.listDirectory({ mount: hung, path: `${dir}/hung/d` }, { timeoutMs })),
      lxnsd.client.writeFile(header({ mount: hung, path: `${dir}/hung/w`, writeMode: 1 }, Buffer.from("x")), { timeoutMs }),
      lxnsd.client.writeFile(header({ mount: hung, path: `${dir}/hung/a`, writeMode: 3 }, Buffer.from("x")), { timeoutMs }),
      lxnsd.client.bindMount({ source: `/proc/${hungTarget.pid}/root${dir}/hung/b`, target: mount(bindTarget.pid), targetPath: `${dir}/src/dest` }, { timeoutMs }),
    ].map(outcome);
    // Every hung call holds its slot (also past its deadline: its lookup still waits).
    for (let i = 0; i < 100 && lxnsd.daemon.slots.active < hungCalls.length; i++) await sleep(100);
    expect(lxnsd.daemon.slots.active).toBeGreaterThanOrEqual(hungCalls.length);

    // Everyone else is served meanwhile. The hung lookups wait until the FUSE server ends, so a call stuck
    // behind them (a full pool, a blocked event loop) would miss any deadline: a generous one proves as much
    // and holds on a busy machine.
    const prompt = { timeoutMs: 10_000 };
    const okRead = await drain(lxnsd.client.readFile({ mount: hung, path: `${dir}/ok` }, prompt));
    expect(Buffer.concat(okRead.map((r) => Buffer.from(r.data))).toString()).toBe("ok\n");
    expect((await drain(lxnsd.client.listNamespaces({}, prompt))).length).toBeGreaterThan(0);
    expect((await lxnsd.client.inspect({ ref: hung }, prompt)).info).toBeDefined();
    await lxnsd.client.bindMount({ source: `${dir}/src`, target: mount(bindTarget.pid), targetPath: `${dir}/src/dest`, readOnly: true }, prompt);

    // The hung calls answer at their deadline, though their lookups still wait.
    expect(await Promise.all(hungCalls)).toEqual(hungCalls.map(() => "DEADLINE_EXCEEDED"));
    expect(lxnsd.daemon.slots.active).toBeGreaterThanOrEqual(hungCalls.length);

    // Ending the FUSE server aborts the connection: the stuck threads return, their slots, fds and threads come back.
    await hungTarget.kill();
    for (let i = 0; i < 100 && (lxnsd.daemon.slots.active > 0 || fdCount() > fdsBefore || threadCount() > threadsBefore); i++) await sleep(100);
    expect(lxnsd.daemon.slots.active).toBe(0);
    expect(fdCount()).toBeLessThanOrEqual(fdsBefore);
    expect(threadCount()).toBeLessThanOrEqual(threadsBefore);
  }, 60_000);
});
