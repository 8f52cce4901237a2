import { status } from "../../../client";
import { FileType, WriteMode } from "../../../client";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { describeRoot } from "../../helpers/privileged";
import { pidRef, startPivoted } from "./pivoted-root";
import type { PivotedTarget } from "./pivoted-root";

async function readAll(lxnsd: TestDaemon, pid: number, path: string, extra: { offset?: bigint; length?: bigint } = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const { data } of lxnsd.client.readFile({ mount: pidRef(pid), path, ...extra })) chunks.push(Buffer.from(data));
  return Buffer.concat(chunks);
}

async function* oneShot(header: object, ...data: (string | Buffer)[]) {
  yield { msg: { case: "header" as const, value: header } };
  for (const item of data) yield { msg: { case: "data" as const, value: Buffer.from(item) } };
}

describeRoot("FileService in a target with a pivoted root", () => {
  let lxnsd: TestDaemon;
  let target: PivotedTarget;

  beforeAll(async () => {
    lxnsd = await startDaemon();
    target = await startPivoted();
  });
  afterAll(async () => {
    await target?.cleanup();
    await lxnsd?.stop();
  });

  it("reads what cat reads through nsenter -m -r", async () => {
    expect((await readAll(lxnsd, target.pid, "/data/hello")).toString()).toBe(target.inside("cat /data/hello"));
    expect((await readAll(lxnsd, target.pid, "/data/hello", { offset: 1n, length: 3n })).toString()).toBe("ell");
  });

  it("stats as stat -c does, and follows a final symlink inside the root", async () => {
    target.inside("ln -sfn /data/hello /data/link-to-hello && chmod 0640 /data/hello && chown 12:34 /data/hello");
    const { info } = await lxnsd.client.stat({ mount: pidRef(target.pid), path: "/data/hello" });
    const [size, mode, uid, gid, mtime] = target.inside("stat -c '%s %a %u %g %Y' /data/hello").trim().split(" ");
    expect(info).toMatchObject({ name: "hello", type: FileType.REGULAR, size: BigInt(size), mode: parseInt(mode, 8), uid: Number(uid), gid: Number(gid) });
    expect(info!.modified!.seconds).toBe(BigInt(mtime));
    const link = await lxnsd.client.stat({ mount: pidRef(target.pid), path: "/data/link-to-hello" });
    expect(link.info).toMatchObject({ name: "link-to-hello", type: FileType.REGULAR, linkTarget: "/data/hello", size: BigInt(size) });
  });

  it("lists as ls -la does", async () => {
    target.inside("mkdir -p /data/dir/sub && echo abc > /data/dir/f && ln -sfn nowhere /data/dir/dangling && mkfifo /data/dir/fifo");
    const entries = [];
    for await (const { entry } of lxnsd.client.listDirectory({ mount: pidRef(target.pid), path: "/data/dir" })) entries.push(entry!);
    const ls = target.inside("ls -la --time-style=+%s /data/dir").trim().split("\n").slice(1);
    const byName = new Map(ls.map((line) => [line.split(/\s+/).slice(6)[0], line.split(/\s+/)]));
    byName.delete(".");
    byName.delete("..");
    expect(entries.map((e) => e.name).sort()).toEqual([...byName.keys()].sort());
    for (const entry of entries) {
      const cols = byName.get(entry.name)!;
      const letters: Record<number, string> = { [FileType.REGULAR]: "-", [FileType.DIRECTORY]: "d", [FileType.SYMLINK]: "l", [FileType.OTHER]: "p" };
      expect(cols[0][0]).toBe(letters[entry.type]);
      expect(BigInt(cols[4])).toBe(entry.size);
    }
    expect(entries.find((e) => e.name === "dangling")).toMatchObject({ type: FileType.SYMLINK, linkTarget: "nowhere" });
  });

  it("writes: REPLACE, CREATE_NEW (ALREADY_EXISTS), APPEND, TRUNCATE, mode, uid, gid", async () => {
    const mount = pidRef(target.pid);
    let res = await lxnsd.client.writeFile(oneShot({ mount, path: "/data/w", mode: 0o600, uid: 1234, gid: 5678 }, "one\n", "two\n"));
    expect(res.bytesWritten).toBe(8n);
    expect(target.inside("cat /data/w; stat -c '%a %u %g' /data/w")).toBe("one\ntwo\n600 1234 5678\n");
    res = await lxnsd.client.writeFile(oneShot({ mount, path: "/data/w", writeMode: WriteMode.APPEND }, "three\n"));
    expect(target.inside("cat /data/w")).toBe("one\ntwo\nthree\n");
    await lxnsd.client.writeFile(oneShot({ mount, path: "/data/w", writeMode: WriteMode.REPLACE }, "new\n"));
    expect(target.inside("cat /data/w; stat -c '%a %u %g' /data/w")).toBe("new\n600 1234 5678\n");
    await lxnsd.client.writeFile(oneShot({ mount, path: "/data/w", writeMode: WriteMode.TRUNCATE }, "t\n"));
    expect(target.inside("cat /data/w")).toBe("t\n");
    await expect(lxnsd.client.writeFile(oneShot({ mount, path: "/data/w", writeMode: WriteMode.CREATE_NEW }, "x"))).rejects.toMatchObject({ code: status.ALREADY_EXISTS });
    await lxnsd.client.writeFile(oneShot({ mount, path: "/data/fresh", writeMode: WriteMode.CREATE_NEW, mode: 0o751 }, "f"));
    expect(target.inside("cat /data/fresh; stat -c ' %a' /data/fresh")).toBe("f 751\n");
    expect(target.inside("ls -a /data").split("\n").filter((name) => name.includes("lxnsd"))).toEqual([]);
  });

  it("REPLACE through a final symlink replaces the file it points to, inside the root, and keeps the symlink", async () => {
    const mount = pidRef(target.pid);
    target.inside("mkdir -p /data/etc /data/run && echo old > /data/run/resolv && ln -sfn ../run/resolv /data/etc/resolv.conf && ln -sfn /../../data/run/made /data/etc/abs");
    await lxnsd.client.writeFile(oneShot({ mount, path: "/data/etc/resolv.conf" }, "nameserver 10.0.0.2\n"));
    expect(target.inside("readlink /data/etc/resolv.conf; cat /data/run/resolv")).toBe("../run/resolv\nnameserver 10.0.0.2\n");
    await lxnsd.client.writeFile(oneShot({ mount, path: "/data/etc/abs" }, "made\n"));
    expect(target.inside("readlink /data/etc/abs; cat /data/run/made")).toBe("/../../data/run/made\nmade\n");
    target.inside("ln -sfn loop-b /data/etc/loop-a && ln -sfn loop-a /data/etc/loop-b");
    await expect(lxnsd.client.writeFile(oneShot({ mount, path: "/data/etc/loop-a" }, "x"))).rejects.toMatchObject({ code: status.FAILED_PRECONDITION });
  });

  it("by a handle of the mount namespace alone: from the namespace's root", async () => {
    const { handle } = await lxnsd.client.open({ ref: pidRef(target.pid) });
    try {
      const mount = { source: { case: "handle" as const, value: handle!.id } };
      const chunks: Buffer[] = [];
      for await (const { data } of lxnsd.client.readFile({ mount, path: "/data/hello" })) chunks.push(Buffer.from(data));
      expect(Buffer.concat(chunks).toString()).toBe(target.inside("cat /data/hello"));
      await lxnsd.client.writeFile(oneShot({ mount, path: "/data/by-handle" }, "h\n"));
      expect(target.inside("cat /data/by-handle")).toBe("h\n");
      expect((await lxnsd.client.stat({ mount, path: "/data/../../data/hello" })).info?.name).toBe("hello");
    } finally {
      await lxnsd.client.close({ handle: handle!.id });
    }
  });

  it("answers the statuses of the issue's table", async () => {
    const mount = pidRef(target.pid);
    target.inside("mkdir -p /data/d && ln -sfn loop1 /data/loop2 && ln -sfn loop2 /data/loop1");
    const cases: [string, () => Promise<unknown>, status][] = [
      ["missing", () => readAll(lxnsd, target.pid, "/data/missing"), status.NOT_FOUND],
      ["directory", () => readAll(lxnsd, target.pid, "/data/d"), status.FAILED_PRECONDITION],
      ["not a dir", () => readAll(lxnsd, target.pid, "/data/hello/x"), status.FAILED_PRECONDITION],
      ["loop", () => readAll(lxnsd, target.pid, "/data/loop1"), status.FAILED_PRECONDITION],
      ["relative", () => readAll(lxnsd, target.pid, "data/hello"), status.INVALID_ARGUMENT],
      ["NUL", () => readAll(lxnsd, target.pid, "/data/\0"), status.INVALID_ARGUMENT],
      ["read-only /usr", () => lxnsd.client.writeFile(oneShot({ mount, path: "/usr/lxnsd-x", writeMode: WriteMode.CREATE_NEW }, "x")), status.FAILED_PRECONDITION],
      ["write a dir", () => lxnsd.client.writeFile(oneShot({ mount, path: "/data/d" }, "x")), status.FAILED_PRECONDITION],
      ["no header", () => lxnsd.client.writeFile((async function* () { yield { msg: { case: "data" as const, value: Buffer.from("x") } }; })()), status.INVALID_ARGUMENT],
      ["list a file", () => lxnsd.client.listDirectory({ mount, path: "/data/hello" })[Symbol.asyncIterator]().next(), status.FAILED_PRECONDITION],
      ["wrong type", () => lxnsd.client.stat({ mount: { ...mount, type: 6 }, path: "/" }), status.FAILED_PRECONDITION],
    ];
    for (const [what, call, code] of cases) await expect(call().then(() => what)).rejects.toMatchObject({ code });
  });
});
