import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Client, credentials } from "@grpc/grpc-js";
import fc from "fast-check";
import { FileService, MountService, NamespaceRefSchema, NamespaceService, NamespaceType, ProcessService, UnshareOptionsSchema, kindNamed, status } from "../../client";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import type { ExecRequest } from "../../client";
import { serviceClient } from "../../client/rpc/service-client";
import { describeRoot } from "../helpers/privileged";
import { processState } from "../helpers/proc";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";
import { anyString, messageInit } from "./support/arbitrary-message";
import type { FieldOverrides } from "./support/arbitrary-message";
import { startDaemonUnderTest } from "./support/daemon-under-test";
import type { DaemonUnderTest, Holdings } from "./support/daemon-under-test";
import { ALLOWED, SAFE_PROGRAMS, tameRequest } from "./support/fuzz-policy";
import { assertFuzz } from "./support/fuzz-seeds";
import type { FuzzWorld } from "./support/fuzz-policy";
import { Tally, lastErrorMessage, statusOf } from "./support/outcomes";

/** Runs per method, over CI's fixed seeds: bounded so that the suite stays within minutes on two cores. */
const RUNS: Record<string, number> = { ListNamespaces: 60, WatchNamespaces: 40, Run: 250, Exec: 250, Unshare: 200 };
const DEFAULT_RUNS = 300;
const SERVICES: DescService[] = [NamespaceService, ProcessService, MountService, FileService];

type AnyFn = (request: unknown, options?: { timeoutMs?: number; signal?: AbortSignal }) => unknown;

describeRoot("fuzz: every request message and field of every method", () => {
  let lxnsd: DaemonUnderTest;
  let target: Target;
  let world: FuzzWorld;
  let channel: Client;
  let baseline: Holdings;
  const opened: string[] = [];
  const tally = new Tally();

  beforeAll(async () => {
    lxnsd = await startDaemonUnderTest();
    // Every namespace a fuzzed request may act on is the suite's: a target in new namespaces (mount propagation private).
    target = await startTarget(["unshare", "--user", "--map-root-user", "--mount", "--net", "--uts", "--ipc", "--pid", "--fork"]);
    const client = lxnsd.client;
    const user = (await client.unshare({ types: [NamespaceType.USER], options: { mapRoot: true } })).handles[0].id;
    const made = (await client.unshare({ types: [NamespaceType.NET, NamespaceType.UTS, NamespaceType.PID, NamespaceType.IPC] })).handles.map((h) => h.id);
    const mnt = (await client.open({ ref: { type: NamespaceType.MNT, source: { case: "pid", value: target.pid } } })).handle!.id;
    const scratch = path.join(lxnsd.dir, "scratch");
    mkdirSync(path.join(scratch, "dir"));
    writeFileSync(path.join(scratch, "file"), "fuzz");
    writeFileSync(path.join(lxnsd.dir, "roots", "file"), "not a namespace");
    world = {
      targetPid: target.pid,
      noSuchPid: Number(readFileSync("/proc/sys/kernel/pid_max", "utf8")) + 1,
      handles: [user, ...made, mnt],
      userHandle: user,
      scratch,
    };
    channel = new Client(lxnsd.address, credentials.createInsecure(), { "grpc.max_receive_message_length": 64 * 1024 * 1024 });
    // Connected before the baseline: its options differ from lxnsd.client's, so it is a connection of its own.
    await new Promise<void>((resolve, reject) => channel.waitForReady(Date.now() + 5000, (err) => (err ? reject(err) : resolve())));
    baseline = await lxnsd.settled();
  });
  afterAll(async () => {
    console.log(`fuzz statuses:\n${tally}`);
    // The daemon logs INTERNAL answers at level error (50) with the cause: shown to diagnose a failure.
    const errors = lxnsd?.proc.stderr().split("\n").filter((line) => line.includes('"level":50'));
    if (errors?.length) console.log(`daemon errors:\n${errors.slice(0, 5).join("\n")}`);
    channel?.close();
    await target?.kill();
    if (lxnsd) expect(await lxnsd.stop()).toBe(0);
  });

  function overrides(): FieldOverrides {
    const roots = path.join(lxnsd.dir, "roots");
    const pins = path.join(lxnsd.dir, "state", "ns");
    const pinName = fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,8}$/), fc.constantFrom("fuzz", "a", "..", ".", "x/y"), anyString);
    const fuzzPath = fc.oneof(fc.constantFrom(world.scratch, `${world.scratch}/dir`, `${world.scratch}/file`, `${world.scratch}/new`, "/", "relative", "/a/../b"), anyString);
    // FileService takes ".." and symlinks (RESOLVE_IN_ROOT keeps them inside): ".."-heavy, long and NUL paths too.
    const filePath = fc.oneof(
      fuzzPath,
      fc.constantFrom(`${world.scratch}/../../..`, "/../../../..", `${world.scratch}/dir/../file`, "/proc/self/root/etc", `/${"a/".repeat(2100)}`, `/${"x".repeat(300)}`, "/tmp\0/x"),
      fc.array(fc.constantFrom("..", ".", "dir", "file", "", "new"), { maxLength: 12 }).map((parts) => `${world.scratch}/${parts.join("/")}`),
    );
    // Mostly the suite's target, by pid or by its mount namespace's handle, so that paths reach the kernel.
    const mountRef = fc.oneof(
      { weight: 2, arbitrary: fc.constant({ type: NamespaceType.MNT, source: { case: "pid", value: world.targetPid } }) },
      { weight: 1, arbitrary: fc.constant({ source: { case: "handle", value: world.handles[world.handles.length - 1] } }) },
      { weight: 1, arbitrary: messageInit(NamespaceRefSchema, 1, {}) },
    );
    const validDuration = fc.record({ seconds: fc.bigInt({ min: 0n, max: 3n }), nanos: fc.integer({ min: 0, max: 999_999_999 }) });
    const validTypes = [NamespaceType.USER, NamespaceType.CGROUP, NamespaceType.IPC, NamespaceType.NET, NamespaceType.MNT, NamespaceType.PID, NamespaceType.TIME, NamespaceType.UTS];
    const types = fc.oneof({ weight: 3, arbitrary: fc.shuffledSubarray(validTypes, { minLength: 1 }) }, { weight: 1, arbitrary: fc.array(fc.integer({ min: -3, max: 12 }), { maxLength: 5 }) });
    const options = fc.oneof(
      { weight: 4, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.record({ mapRoot: fc.boolean(), hostname: fc.constantFrom("", "fuzz"), loopbackUp: fc.boolean() }) },
      { weight: 1, arbitrary: messageInit(UnshareOptionsSchema, 2, {}) },
    );
    const targetRefs = ["user", "net", "uts", "ipc", "mnt", "pid"].map((name) => ({ type: kindNamed(name)!.type, source: { case: "pid", value: world.targetPid } }));
    return {
      "lxnsd.v1.NamespaceRef.handle": fc.oneof(fc.constantFrom(...world.handles), fc.constant("h-unknown"), anyString),
      "lxnsd.v1.NamespaceRef.pid": fc.oneof(fc.constantFrom(world.targetPid, world.noSuchPid, 0, -1, 1), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
      "lxnsd.v1.NamespaceRef.path": fc.oneof(fc.constantFrom(roots, `${roots}/file`, `${pins}/fuzz`, `${pins}/a`, "/proc/self/ns/net", `/proc/${world.targetPid}/ns/net`), anyString),
      "lxnsd.v1.ExecSpec.argv": fc.oneof(
        { weight: 8, arbitrary: fc.tuple(fc.constantFrom(...SAFE_PROGRAMS), fc.array(anyString, { maxLength: 3 })).map(([program, args]) => [program, ...args]) },
        { weight: 1, arbitrary: fc.constantFrom([], [""], ["true\0"], ["/bin/true", ...Array<string>(300).fill("a".repeat(1000))]) },
        { weight: 1, arbitrary: fc.array(anyString, { maxLength: 3 }) },
      ),
      // Mostly values that pass validation, so that fuzzed specs and Unshares also reach the kernel; the rest anything.
      "lxnsd.v1.ExecSpec.env": fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 2, arbitrary: fc.array(fc.tuple(fc.stringMatching(/^[A-Z_]{1,8}$/), anyString).map(([k, v]) => `${k}=${v}`), { maxLength: 4 }) }, { weight: 1, arbitrary: fc.array(anyString, { maxLength: 4 }) }),
      "lxnsd.v1.ExecSpec.cwd": fc.oneof({ weight: 3, arbitrary: fc.constantFrom("", "/", "/tmp", "/nonexistent") }, { weight: 1, arbitrary: anyString }),
      "lxnsd.v1.ExecSpec.uid": fc.oneof(fc.constant(undefined), fc.constantFrom(0, 65534), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
      "lxnsd.v1.ExecSpec.gid": fc.oneof(fc.constant(undefined), fc.constantFrom(0, 65534), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
      "lxnsd.v1.ExecSpec.timeout": fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: validDuration }, { weight: 1, arbitrary: messageInit(DurationSchema) }),
      "lxnsd.v1.ExecSpec.unshare": fc.oneof({ weight: 2, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: types }),
      "lxnsd.v1.ExecSpec.join": fc.oneof({ weight: 2, arbitrary: fc.constant([]) }, { weight: 2, arbitrary: fc.subarray(targetRefs, { maxLength: 3 }) }, { weight: 1, arbitrary: fc.array(messageInit(NamespaceRefSchema, 1, {}), { maxLength: 3 }) }),
      "lxnsd.v1.UnshareRequest.types": types,
      "lxnsd.v1.ExecSpec.unshare_options": options,
      "lxnsd.v1.UnshareRequest.options": options,
      "lxnsd.v1.RunRequest.max_output_bytes": fc.oneof(fc.constantFrom(0, 1, 16 * 1024 * 1024, 16 * 1024 * 1024 + 1), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
      "lxnsd.v1.PinRequest.name": pinName,
      "lxnsd.v1.UnpinRequest.name": pinName,
      "lxnsd.v1.BindMountRequest.source": fuzzPath,
      "lxnsd.v1.BindMountRequest.target_path": fuzzPath,
      "lxnsd.v1.ReadFileRequest.mount": mountRef,
      "lxnsd.v1.StatRequest.mount": mountRef,
      "lxnsd.v1.ListDirectoryRequest.mount": mountRef,
      "lxnsd.v1.WriteFileHeader.mount": mountRef,
      "lxnsd.v1.ReadFileRequest.path": filePath,
      "lxnsd.v1.StatRequest.path": filePath,
      "lxnsd.v1.ListDirectoryRequest.path": filePath,
      "lxnsd.v1.WriteFileHeader.path": filePath,
      // Mostly within --max-file-bytes, so that reads reach the kernel.
      "lxnsd.v1.ReadFileRequest.length": fc.oneof(fc.constantFrom(0n, 1n, 4096n, 64n * 1024n * 1024n + 1n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
      "lxnsd.v1.WriteFileHeader.mode": fc.oneof(fc.constantFrom(0, 0o644, 0o7777, 0o10000), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
    };
  }

  /** Sends one fuzzed request (or stream of them) and returns how the call ended; keeps what it made for the cleanup. */
  async function send(method: DescMethod, fn: AnyFn, requests: unknown[]): Promise<status> {
    // The suite's own bound: a program a fuzzed signal stopped (SIGSTOP) waits for it (DEADLINE_EXCEEDED).
    const options = { timeoutMs: 5000 };
    if (method.methodKind === "unary") {
      return statusOf(
        (async () => {
          const response = (await fn(requests[0], options)) as { handle?: { id: string }; handles?: { id: string }[] };
          if (response.handle) opened.push(response.handle.id);
          for (const handle of response.handles ?? []) opened.push(handle.id);
        })(),
      );
    }
    if (method.methodKind === "server_streaming") {
      const controller = new AbortController();
      return statusOf(
        (async () => {
          for await (const _response of fn(requests[0], { ...options, signal: controller.signal }) as AsyncIterable<unknown>) {
            // A watch never ends on its own: its first answer is enough.
            if (method.name === "WatchNamespaces") controller.abort();
          }
        })(),
      );
    }
    if (method.methodKind === "client_streaming") {
      return statusOf(
        (async () => {
          await fn(
            (async function* () {
              yield* requests;
            })(),
            options,
          );
        })(),
      );
    }
    return statusOf(
      (async () => {
        for await (const _response of fn((async function* () {
          yield* requests;
        })(), options) as AsyncIterable<unknown>);
      })(),
    );
  }

  for (const service of SERVICES) {
    for (const method of service.methods) {
      it(`${service.name}.${method.name}: only defined statuses, the daemon alive`, async () => {
        const fn = (serviceClient(channel, service) as Record<string, AnyFn>)[method.localName];
        const one = messageInit(method.input, 4, overrides()).map((init) => {
          const message = create(method.input, init);
          tameRequest(method, message, world);
          return message;
        });
        // An Exec stream mostly opens with its spec, as it must, then anything (stdin, close_stdin, signals, more specs).
        const requests =
          method.methodKind === "bidi_streaming"
            ? fc.tuple(fc.oneof({ weight: 4, arbitrary: one.filter((message) => (message as ExecRequest).msg.case === "spec") }, { weight: 1, arbitrary: one }), fc.array(one, { maxLength: 4 })).map(([first, rest]) => [first, ...rest])
            : one.map((message) => [message]);
        await assertFuzz(
          `messages: ${service.name}.${method.name}`,
          RUNS[method.name] ?? DEFAULT_RUNS,
          fc.asyncProperty(requests, async (messages) => {
            // What the client could not even encode is not the daemon's business.
            messages.forEach((message) => toBinary(method.input, message));
            const code = await send(method, fn, messages);
            tally.add(method.name, code);
            if (!ALLOWED[method.name].includes(code)) throw new Error(`${method.name} answered ${status[code]}: ${lastErrorMessage}`);
          }),
        );
        expect(lxnsd.proc.proc.exitCode).toBeNull();
        expect((await lxnsd.client.getCurrentNamespaces()).namespaces).toHaveLength(8);
      });
    }
  }

  it("nothing leaks: after closing what the fuzzing opened and unpinning its pins, fds, handles and children are back", async () => {
    for (const id of opened.splice(0)) await lxnsd.client.close({ handle: id });
    const pins = path.join(lxnsd.dir, "state", "ns");
    for (const name of existsSync(pins) ? readdirSync(pins) : []) await lxnsd.client.unpin({ name });
    await lxnsd.expectBack(baseline, 20000);
    expect(lxnsd.holdings().children.filter((child) => processState(child.pid) === "Z")).toEqual([]);
  });
});
