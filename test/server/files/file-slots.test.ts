import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NamespaceType, status } from "../../../client";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { describeRoot } from "../../helpers/privileged";
import { startTarget } from "../../helpers/targets";
import type { Target } from "../../helpers/targets";

/** Waits (up to 10 s) until the daemon's running slots are `count`; a call's slot is freed once its last close returned, which may be just after its answer. */
async function slotsSettle(lxnsd: TestDaemon, count: number): Promise<void> {
  for (let i = 0; i < 500 && lxnsd.daemon.slots.active !== count; i++) await new Promise((resolve) => setTimeout(resolve, 20));
}

async function readText(lxnsd: TestDaemon, request: Parameters<TestDaemon["client"]["readFile"]>[0]): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const { data } of lxnsd.client.readFile(request)) chunks.push(Buffer.from(data));
  return Buffer.concat(chunks).toString();
}

describeRoot("FileService calls take a child slot (--max-children), by pid, handle or path", () => {
  let lxnsd: TestDaemon;
  let target: Target;
  let dir: string;

  beforeAll(async () => {
    // One slot, no queue: a second call while one runs is refused at once.
    lxnsd = await startDaemon({ maxChildren: 1, maxQueue: 0 });
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-fileslots-"));
    writeFileSync(path.join(dir, "file"), "slot\n");
    target = await startTarget(["unshare", "--mount", "--propagation", "private"]);
  });
  afterAll(async () => {
    await target?.kill();
    await lxnsd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a WriteFile that is still sending holds the only slot: a ReadFile by handle is RESOURCE_EXHAUSTED (CHILD_LIMIT), then served once it ends", async () => {
    const pidRef = { type: NamespaceType.MNT, source: { case: "pid" as const, value: target.pid } };
    const handle = (await lxnsd.client.open({ ref: pidRef })).handle!.id;
    const byHandle = { source: { case: "handle" as const, value: handle } };
    let finish: () => void = () => {};
    const sending = new Promise<void>((resolve) => (finish = resolve));
    const write = lxnsd.client.writeFile(
      (async function* () {
        yield { msg: { case: "header" as const, value: { mount: pidRef, path: `${dir}/written` } } };
        await sending;
        yield { msg: { case: "data" as const, value: Buffer.from("done\n") } };
      })(),
    );
    write.catch(() => undefined); // awaited below; a failed assertion must not leave it unhandled
    try {
      await slotsSettle(lxnsd, 1);
      expect(lxnsd.daemon.slots.active).toBe(1);
      await expect(readText(lxnsd, { mount: byHandle, path: `${dir}/file` })).rejects.toMatchObject({ code: status.RESOURCE_EXHAUSTED, reason: "CHILD_LIMIT" });
      await expect(lxnsd.client.stat({ mount: pidRef, path: `${dir}/file` })).rejects.toMatchObject({ code: status.RESOURCE_EXHAUSTED });
    } finally {
      finish();
    }
    expect((await write).bytesWritten).toBe(5n);
    await slotsSettle(lxnsd, 0);
    expect(lxnsd.daemon.slots.active).toBe(0);
    expect(await readText(lxnsd, { mount: byHandle, path: `${dir}/file` })).toBe("slot\n");
    await slotsSettle(lxnsd, 0);
    expect(lxnsd.daemon.slots.active).toBe(0);
    await lxnsd.client.close({ handle });
  });
});
