import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { status } from "../../../client";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { describeRoot } from "../../helpers/privileged";
import { pidRef, startPivoted } from "./pivoted-root";
import type { PivotedTarget } from "./pivoted-root";

const MiB = 1024 * 1024;

/** `count` chunks of `size` bytes, each byte `fill`. */
async function* chunks(header: object, fill: number, size: number, count: number, between?: (i: number) => Promise<void>) {
  yield { msg: { case: "header" as const, value: header } };
  for (let i = 0; i < count; i++) {
    await between?.(i);
    yield { msg: { case: "data" as const, value: Buffer.alloc(size, fill) } };
  }
}

describeRoot("FileService: size, backpressure and atomic REPLACE", () => {
  let lxnsd: TestDaemon;
  let target: PivotedTarget;

  beforeAll(async () => {
    lxnsd = await startDaemon({ maxFileBytes: 300 * MiB });
    target = await startPivoted();
  });
  afterAll(async () => {
    await target?.cleanup();
    await lxnsd?.stop();
  });

  it("writes and reads back 256 MiB whole, and refuses more than --max-file-bytes", async () => {
    const mount = pidRef(target.pid);
    const written = await lxnsd.client.writeFile(chunks({ mount, path: "/data/big" }, 0x5a, MiB, 256));
    expect(written.bytesWritten).toBe(BigInt(256 * MiB));
    const hash = createHash("sha256");
    let total = 0;
    for await (const { data } of lxnsd.client.readFile({ mount, path: "/data/big" })) {
      hash.update(data);
      total += data.length;
    }
    expect(total).toBe(256 * MiB);
    expect(hash.digest("hex")).toBe(target.inside("sha256sum /data/big").split(" ")[0]);
    const small = await startDaemon({ maxFileBytes: 64 * MiB });
    try {
      const read = async () => {
        for await (const _ of small.client.readFile({ mount, path: "/data/big" })) void _;
      };
      await expect(read()).rejects.toMatchObject({ code: status.RESOURCE_EXHAUSTED });
      let got = 0;
      for await (const { data } of small.client.readFile({ mount, path: "/data/big", offset: BigInt(200 * MiB), length: BigInt(MiB) })) got += data.length;
      expect(got).toBe(MiB);
    } finally {
      await small.stop();
    }
    target.inside("rm /data/big");
  }, 180_000);

  it("reads back content that differs in every chunk byte for byte, whole and from an offset (its read buffers are reused)", async () => {
    const mount = pidRef(target.pid);
    const content = randomBytes(9 * MiB + 12345);
    async function* pieces() {
      yield { msg: { case: "header" as const, value: { mount, path: "/data/random" } } };
      for (let at = 0; at < content.length; at += MiB) yield { msg: { case: "data" as const, value: content.subarray(at, at + MiB) } };
    }
    await lxnsd.client.writeFile(pieces());
    const read = async (offset: number, length: number) => {
      const got: Buffer[] = [];
      for await (const { data } of lxnsd.client.readFile({ mount, path: "/data/random", offset: BigInt(offset), length: BigInt(length) })) got.push(Buffer.from(data));
      return Buffer.concat(got);
    };
    expect((await read(0, 0)).equals(content)).toBe(true);
    expect((await read(MiB / 2 + 7, 5 * MiB)).equals(content.subarray(MiB / 2 + 7, MiB / 2 + 7 + 5 * MiB))).toBe(true);
    target.inside("rm /data/random");
  }, 120_000);

  it("REPLACE is atomic under a reader loop: the old content or the new, never a mix", async () => {
    const mount = pidRef(target.pid);
    const size = 4 * MiB;
    await lxnsd.client.writeFile(chunks({ mount, path: "/data/atomic" }, 0x41, size, 1));
    // A reader in the target: each line is the count of distinct bytes, then the size of one read of the whole file.
    const reader = spawn("nsenter", ["-t", String(target.pid), "-m", "-r", "sh", "-c", "while :; do od -An -v -tx1 /data/atomic | tr -s ' ' '\\n' | sort -u | grep -c . ; done"], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    reader.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const reads = () => out.split("\n").filter(Boolean).length;
    let last = 0;
    try {
      // REPLACEs go on until the reader has read the file at least 3 times meanwhile (each read takes a while on a busy machine).
      const deadline = Date.now() + 60_000;
      for (let i = 0; i < 6 || (reads() < 3 && Date.now() < deadline); i++) {
        last = 0x42 + (i % 6);
        await lxnsd.client.writeFile(chunks({ mount, path: "/data/atomic" }, last, 256 * 1024, size / (256 * 1024), async () => new Promise((r) => setImmediate(r))));
      }
    } finally {
      reader.kill("SIGKILL");
    }
    const counts = out.trim().split("\n").filter(Boolean);
    expect(counts.length).toBeGreaterThan(0);
    expect(new Set(counts)).toEqual(new Set(["1"]));
    expect(target.inside("od -An -v -tx1 /data/atomic | tr -s ' ' '\\n' | sort -u | grep .")).toBe(`${last.toString(16)}\n`);
   }, 90_000);

  it("a cancelled REPLACE leaves the old file untouched and no temp file behind", async () => {
    const mount = pidRef(target.pid);
    await lxnsd.client.writeFile(chunks({ mount, path: "/data/keep" }, 0x61, 10, 1));
    const controller = new AbortController();
    const call = lxnsd.client.writeFile(
      chunks({ mount, path: "/data/keep" }, 0x62, MiB, 64, async (i) => {
        if (i === 8) controller.abort();
        await new Promise((r) => setTimeout(r, 5));
      }),
      { signal: controller.signal },
    );
    await expect(call).rejects.toMatchObject({ code: status.CANCELLED });
    // The daemon notices the cancel on its side as soon as grpc-js tells it; give it a moment to clean up.
    for (let i = 0; i < 50 && target.inside("ls -a /data").includes("lxnsd-"); i++) await new Promise((r) => setTimeout(r, 100));
    expect(target.inside("cat /data/keep")).toBe("aaaaaaaaaa");
    expect(target.inside("ls -a /data")).not.toContain("lxnsd-");
  });
});
