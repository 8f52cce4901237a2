import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { status } from "../../../client";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { describeRoot } from "../../helpers/privileged";
import { pidRef, startPivoted } from "./pivoted-root";
import type { PivotedTarget } from "./pivoted-root";

/** What a read answered: the content, or the status code. */
async function readOutcome(lxnsd: TestDaemon, pid: number, path: string): Promise<string | number> {
  try {
    const chunks: Buffer[] = [];
    for await (const { data } of lxnsd.client.readFile({ mount: pidRef(pid), path })) chunks.push(Buffer.from(data));
    return Buffer.concat(chunks).toString();
  } catch (err) {
    return (err as { code: number }).code;
  }
}

describeRoot("FileService never leaves the target's root", () => {
  let lxnsd: TestDaemon;
  let target: PivotedTarget;
  let loop: ChildProcess | undefined;

  beforeAll(async () => {
    lxnsd = await startDaemon();
    target = await startPivoted();
    const secretDir = target.hostSecret.slice(0, target.hostSecret.lastIndexOf("/"));
    target.inside(
      [
        "cd /data",
        "ln -s / to-root",
        `ln -s ${secretDir} to-secret-dir`,
        "ln -s ../../../../../../.. up",
        "ln -s self-loop self-loop",
        "mkfifo fifo",
      ].join(" && "),
    );
  });
  afterEach(async () => {
    if (loop && loop.exitCode === null) {
      const exited = new Promise((resolve) => loop!.once("exit", resolve));
      loop.kill("SIGKILL");
      await exited;
    }
    loop = undefined;
  });
  afterAll(async () => {
    await target?.cleanup();
    await lxnsd?.stop();
  });

  it("resolves escape attempts inside the root: the target's file or an error, never the host's", async () => {
    const secret = target.hostSecret;
    const attempts = [
      secret,
      `/data/to-root${secret}`,
      `/data/to-secret-dir/secret`,
      `/data/up${secret}`,
      `/../../../../..${secret}`,
      `/data/../../../..${secret}`,
      `/proc/self/root${secret}`,
      `/proc/1/root${secret}`,
      `/proc/${process.pid}/root${secret}`,
      `/proc/${target.pid}/cwd${secret}`,
    ];
    for (const path of attempts) {
      const outcome = await readOutcome(lxnsd, target.pid, path);
      expect([path, outcome]).toEqual([path, expect.not.stringContaining("host secret")]);
      expect([path, ["inner\n", status.NOT_FOUND, status.FAILED_PRECONDITION, status.PERMISSION_DENIED].includes(outcome)]).toEqual([path, true]);
    }
    // Magic links are refused outright (ELOOP): /proc/PID/root would leave any root.
    expect(await readOutcome(lxnsd, target.pid, `/proc/${process.pid}/root${secret}`)).toBe(status.FAILED_PRECONDITION);
    expect(await readOutcome(lxnsd, target.pid, "/data/self-loop")).toBe(status.FAILED_PRECONDITION);
  });

  it("stays inside while a symlink beside the path is swapped by a rename loop", async () => {
    const secret = target.hostSecret;
    // In the target's own view: "swap" is renamed between a directory holding the inner file and a symlink to "/".
    const script = `mkdir -p /data/real${secret.slice(0, secret.lastIndexOf("/"))} && echo inner > /data/real${secret} && cd /data && while :; do ln -sfn / l1 && mv -T l1 swap; ln -sfn real l2 && mv -T l2 swap; done`;
    loop = spawn("nsenter", ["-t", String(target.pid), "-m", "-r", "sh", "-c", script], { stdio: "ignore" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const seen = new Set<string | number>();
    for (let i = 0; i < 300; i++) {
      const outcome = await readOutcome(lxnsd, target.pid, `/data/swap${secret}`);
      seen.add(outcome);
      expect(outcome).not.toEqual(expect.stringContaining("host secret"));
    }
    // Both sides of the swap were seen: the symlink to "/" resolves to the target's root, which has the inner file too.
    expect([...seen].every((outcome) => outcome === "inner\n" || outcome === status.NOT_FOUND)).toBe(true);
    expect(seen.has("inner\n")).toBe(true);
  });

  it("refuses a FIFO at once, for reading and writing, and keeps serving", async () => {
    const started = Date.now();
    expect(await readOutcome(lxnsd, target.pid, "/data/fifo")).toBe(status.FAILED_PRECONDITION);
    const append = lxnsd.client.writeFile(
      (async function* () {
        yield { msg: { case: "header" as const, value: { mount: pidRef(target.pid), path: "/data/fifo", writeMode: 3 } } };
        yield { msg: { case: "data" as const, value: Buffer.from("x") } };
      })(),
    );
    await expect(append).rejects.toMatchObject({ code: status.FAILED_PRECONDITION });
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await lxnsd.client.stat({ mount: pidRef(target.pid), path: "/data/fifo" })).info?.name).toBe("fifo");
  });
});
