import fc from "fast-check";
import { NamespaceType, WriteMode, status } from "../../client";
import type { LxnsdClient } from "../../client";
import { describeRoot } from "../helpers/privileged";
import { processState } from "../helpers/proc";
import { startPivoted } from "../server/files/pivoted-root";
import type { PivotedTarget } from "../server/files/pivoted-root";
import { startDaemonUnderTest } from "./support/daemon-under-test";
import type { DaemonUnderTest, Holdings } from "./support/daemon-under-test";
import { Tally, runPool, statusOf } from "./support/outcomes";

const CALLS = 2_000;
const CONCURRENCY = 32;
/** What FileService may answer a path it cannot use (README, FileService). */
const PATH_STATUSES = [status.OK, status.INVALID_ARGUMENT, status.NOT_FOUND, status.FAILED_PRECONDITION, status.PERMISSION_DENIED, status.ALREADY_EXISTS, status.RESOURCE_EXHAUSTED];

type Check = (client: LxnsdClient, index: number) => Promise<void>;

async function readAll(client: LxnsdClient, request: Parameters<LxnsdClient["readFile"]>[0], options?: { signal?: AbortSignal }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const { data } of client.readFile(request, options)) chunks.push(Buffer.from(data));
  return Buffer.concat(chunks);
}

async function* oneShot(header: object, data: Buffer) {
  yield { msg: { case: "header" as const, value: header } };
  yield { msg: { case: "data" as const, value: data } };
}

function expectEqual<T>(what: string, actual: T, expected: T): void {
  if (actual !== expected) throw new Error(`${what}: got ${String(actual)}, expected ${String(expected)}`);
}

function checks(target: PivotedTarget): Record<string, Check> {
  const mount = { type: NamespaceType.MNT, source: { case: "pid" as const, value: target.pid } };
  return {
    ReadFile: async (client) => expectEqual("content", (await readAll(client, { mount, path: "/data/hello" })).toString(), "hello\n"),
    Stat: async (client) => expectEqual("size", (await client.stat({ mount, path: "/data/hello" })).info!.size, 6n),
    ListDirectory: async (client) => {
      let names = 0;
      for await (const _ of client.listDirectory({ mount, path: "/usr" })) names += 1;
      if (names < 3) throw new Error(`/usr has ${names} entries`);
    },
    "WriteFile+ReadFile": async (client, index) => {
      const data = Buffer.from(`write ${index}\n`.repeat(1 + (index % 50)));
      const path = `/data/w-${index}`;
      expectEqual("bytes", (await client.writeFile(oneShot({ mount, path, mode: 0o600 }, data))).bytesWritten, BigInt(data.length));
      expectEqual("read back", (await readAll(client, { mount, path })).equals(data), true);
      expectEqual("CREATE_NEW again", status[await statusOf(client.writeFile(oneShot({ mount, path, writeMode: WriteMode.CREATE_NEW }, data)))], "ALREADY_EXISTS");
    },
    "ReadFile missing": async (client) => expectEqual("status", status[await statusOf(readAll(client, { mount, path: "/data/missing" }))], "NOT_FOUND"),
    "Open+ReadFile+Close": async (client) => {
      const { handle } = await client.open({ ref: mount });
      const byHandle = { source: { case: "handle" as const, value: handle!.id } };
      expectEqual("content", (await readAll(client, { mount: byHandle, path: "/data/hello" })).toString(), "hello\n");
      await client.close({ handle: handle!.id });
    },
    "ReadFile cancelled": async (client) => {
      const controller = new AbortController();
      let got = 0;
      const code = await statusOf(
        (async () => {
          for await (const { data } of client.readFile({ mount, path: "/data/big" }, { signal: controller.signal })) {
            got += data.length;
            controller.abort();
          }
        })(),
      );
      if (code !== status.CANCELLED && code !== status.OK) throw new Error(`cancelled read answered ${status[code]}`);
      if (got === 0) throw new Error("nothing read before the cancel");
    },
  };
}

describeRoot("reliability: FileService", () => {
  let lxnsd: DaemonUnderTest;
  let target: PivotedTarget;
  let baseline: Holdings;

  beforeAll(async () => {
    lxnsd = await startDaemonUnderTest();
    // No /proc in its root: fuzzed paths reach only the target's own tmpfs and the read-only /usr.
    target = await startPivoted({ proc: false });
    target.inside("yes lxnsd | head -c 8388608 > /data/big");
    for (const [kind, check] of Object.entries(checks(target))) await check(lxnsd.client, 100000 + kind.length);
    baseline = await lxnsd.settled();
  });
  afterAll(async () => {
    await target?.cleanup();
    if (lxnsd) expect(await lxnsd.stop()).toBe(0);
  });

  it(`${CALLS} mixed file calls at concurrency ${CONCURRENCY}: every answer right, fds and children back, no zombie`, async () => {
    const kinds = Object.entries(checks(target));
    const tally = new Tally();
    const wrong: string[] = [];
    await runPool(CALLS, CONCURRENCY, async (index) => {
      const [kind, check] = kinds[index % kinds.length];
      try {
        await check(lxnsd.client, index);
        tally.add(kind, status.OK);
      } catch (err) {
        tally.add(kind, (err as { code?: status }).code ?? status.UNKNOWN);
        if (wrong.length < 20) wrong.push(`${kind} #${index}: ${(err as Error).message}`);
      }
    });
    console.log(`files: ${CALLS} calls\n${tally}`);
    expect(wrong).toEqual([]);
    await lxnsd.expectBack(baseline);
    expect(lxnsd.holdings().children.filter((child) => processState(child.pid) === "Z")).toEqual([]);
  }, 600_000);

  it("fuzzed paths (NUL, very long, ..-heavy, symlink-ish) get only FileService's statuses and leak nothing", async () => {
    const mount = { type: NamespaceType.MNT, source: { case: "pid" as const, value: target.pid } };
    const component = fc.oneof(fc.constantFrom("..", ".", "", "data", "hello", "usr", "proc", "self", "root", "\0", "x".repeat(300)), fc.string({ maxLength: 12 }));
    const fuzzPath = fc.oneof(
      fc.array(component, { maxLength: 40 }).map((parts) => `/${parts.join("/")}`),
      fc.string({ maxLength: 64 }),
      fc.constant(`/${"a/".repeat(2100)}`),
    );
    const seen = new Tally();
    await fc.assert(
      fc.asyncProperty(fuzzPath, fc.constantFrom("read", "stat", "list", "replace", "create"), async (path, kind) => {
        const call =
          kind === "read"
            ? readAll(lxnsd.client, { mount, path, length: 4096n })
            : kind === "stat"
              ? lxnsd.client.stat({ mount, path })
              : kind === "list"
                ? (async () => {
                    for await (const _ of lxnsd.client.listDirectory({ mount, path })) void _;
                  })()
                : lxnsd.client.writeFile(oneShot({ mount, path: `/data/fuzz${path}`, writeMode: kind === "replace" ? WriteMode.REPLACE : WriteMode.CREATE_NEW }, Buffer.from("f")));
        const code = await statusOf(call);
        seen.add(kind, code);
        if (!PATH_STATUSES.includes(code)) throw new Error(`${kind} ${JSON.stringify(path.slice(0, 200))} answered ${status[code]}`);
      }),
      { numRuns: 1000, seed: 16 },
    );
    console.log(`fuzzed paths:\n${seen}`);
    await lxnsd.expectBack(baseline);
  }, 600_000);
});
