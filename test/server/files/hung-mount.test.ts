import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
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

describeRoot("FileService and a mount that never answers", () => {
  let lxnsd: TestDaemon;
  let target: Target;
  let dir: string;

  beforeAll(async () => {
    lxnsd = await startDaemon();
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-hung-"));
    if (!existsSync("/dev/fuse")) return;
    // A FUSE mount whose server (fd 3, kept by sleep) never reads /dev/fuse: every lookup in it waits forever.
    const script = `mkdir ${dir}/hung && echo ok > ${dir}/ok && exec 3<>/dev/fuse && mount -t fuse -o fd=3,rootmode=40000,user_id=0,group_id=0 lxnsd-hung ${dir}/hung && exec "$@"`;
    target = await startTarget(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]);
  });
  afterAll(async () => {
    await target?.kill();
    await lxnsd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  itUnless(existsSync("/dev/fuse"), "no /dev/fuse")("a hung lookup stalls only its own call: others are served, a cancel answers at once, nothing leaks", async () => {
    // A first call opens the client's connection: the baseline is taken after it.
    await lxnsd.client.stat({ mount: mount(target.pid), path: `${dir}/ok` });
    const before = fdCount();
    const controller = new AbortController();
    const hung = (async () => {
      for await (const _ of lxnsd.client.readFile({ mount: mount(target.pid), path: `${dir}/hung/x` }, { signal: controller.signal })) void _;
    })();
    const listing = (async () => {
      for await (const _ of lxnsd.client.listDirectory({ mount: mount(target.pid), path: `${dir}/hung` }, { timeoutMs: 300 })) void _;
    })().catch((err: unknown) => err);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    const chunks: Buffer[] = [];
    for await (const { data } of lxnsd.client.readFile({ mount: mount(target.pid), path: `${dir}/ok` })) chunks.push(Buffer.from(data));
    expect(Buffer.concat(chunks).toString()).toBe("ok\n");
    expect((await lxnsd.client.inspect({ ref: mount(target.pid) })).info).toBeDefined();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await listing).toMatchObject({ code: status.DEADLINE_EXCEEDED });
    controller.abort();
    await expect(hung).rejects.toMatchObject({ code: status.CANCELLED });
    // Ending the FUSE server (the target holds its fd) fails the waiting lookups: their fds and threads come back.
    await target.kill();
    for (let i = 0; i < 50 && fdCount() > before; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(fdCount()).toBeLessThanOrEqual(before);
  }, 30_000);
});
