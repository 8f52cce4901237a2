import { create } from "@bufbuild/protobuf";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Readable } from "node:stream";
import { status } from "@grpc/grpc-js";
import { ErrorInfoSchema } from "../../api/gen/google/rpc/error_details_pb";
import { InspectResponseSchema } from "../../api/gen/lxnsd/v1/namespace_service_pb";
import { NamespaceRefSchema, NamespaceType } from "../../api/gen/lxnsd/v1/types_pb";
import type { LxnsdClient } from "../../client";
import { LxnsdError } from "../../client/lxnsd-error";
import type { ExecSession, ExecSpecInit, OutputChunk, ProgramExit } from "../../client/process-client";
import type { CliIo } from "../../client/cli/main";
import { exitStatusOf, failureStatusOf } from "../../client/cli/run-program";
import { targetShell } from "../../client/cli/commands/exec";
import { DEFAULT_ENV } from "../../api/default-env";
import { captureCli } from "../helpers/cli";
import { waitFor } from "../helpers/proc";
import type { LocalTerminal } from "../../client/cli/cli-context";

/** What the fake program does: its output, and how it ends (an exit or a daemon error). */
interface Script {
  output?: OutputChunk[];
  exit?: ProgramExit;
  error?: Error;
  /** Finish only once stdin was closed (a `cat`). */
  waitForStdinClose?: boolean;
  /** Finish only once a signal arrived, and die of it. */
  waitForSignal?: boolean;
}

/** A session that records what the CLI sent it and plays `script`. */
class FakeSession implements ExecSession {
  readonly writes: Buffer[] = [];
  readonly signals: number[] = [];
  readonly resizes: [number, number][] = [];
  stdinClosed = false;
  cancelled = false;
  private readonly ended: Promise<ProgramExit>;
  private closeStdinNow!: () => void;
  private signalNow!: (signal: number) => void;
  readonly started = Promise.resolve(4242);

  constructor(private readonly script: Script) {
    const stdinClosed = new Promise<void>((resolve) => (this.closeStdinNow = resolve));
    const signalled = new Promise<number>((resolve) => (this.signalNow = resolve));
    this.ended = (async () => {
      if (script.waitForStdinClose) await stdinClosed;
      if (script.waitForSignal) return { signal: await signalled };
      if (script.error) throw script.error;
      return script.exit ?? { code: 0 };
    })();
    this.ended.catch(() => undefined);
  }

  get output(): AsyncIterable<OutputChunk> {
    const script = this.script;
    const ended = this.ended;
    const writes = this.writes;
    return (async function* () {
      for (const chunk of script.output ?? []) yield chunk;
      await ended;
      // a cat echoes what it read
      if (script.waitForStdinClose) yield { stream: "stdout" as const, data: Buffer.concat(writes) };
    })();
  }

  async write(data: Uint8Array | string): Promise<void> {
    this.writes.push(Buffer.from(data));
  }
  closeStdin(): void {
    this.stdinClosed = true;
    this.closeStdinNow();
  }
  signal(signal: number): void {
    this.signals.push(signal);
    this.signalNow(signal);
  }
  resize(rows: number, cols: number): void {
    this.resizes.push([rows, cols]);
  }
  wait(): Promise<ProgramExit> {
    return this.ended;
  }
  cancel(): void {
    this.cancelled = true;
  }
}

/** A client whose exec plays `script`; inspect answers `inspect(request)` (undefined by default). */
function fakeClient(script: Script = {}, inspect?: (request: { ref: { source: { case: string } } }) => unknown) {
  const specs: ExecSpecInit[] = [];
  const sessions: FakeSession[] = [];
  const inspected: unknown[] = [];
  const client = {
    exec: (spec: ExecSpecInit) => {
      specs.push(spec);
      const session = new FakeSession(script);
      sessions.push(session);
      return session;
    },
    inspect: async (request: { ref: { source: { case: string } } }) => {
      inspected.push(request);
      return inspect?.(request);
    },
    disconnect: () => undefined,
  } as unknown as LxnsdClient;
  return { client, specs, sessions, inspected };
}

async function cli(argv: string[], fake = fakeClient(), extra: Partial<CliIo> = {}) {
  const output = await captureCli(argv, { env: { TERM: "xterm" }, connect: () => fake.client, ...extra });
  return { ...output, specs: fake.specs, sessions: fake.sessions, inspected: fake.inspected };
}

const pidRef = (type: NamespaceType, pid: number) => create(NamespaceRefSchema, { type, source: { case: "pid", value: pid } });

describe("lxnsctl exec: flags → ExecSpec", () => {
  it("exec -t 42 -n -u -- hostname joins net and uts of pid 42", async () => {
    const result = await cli(["exec", "-t", "42", "-n", "-u", "--", "hostname"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.specs).toHaveLength(1);
    expect(result.specs[0]).toMatchObject({ argv: ["hostname"], join: [pidRef(NamespaceType.NET, 42), pidRef(NamespaceType.UTS, 42)], env: [], cwd: process.cwd() });
    expect(result.specs[0].uid).toBeUndefined();
  });

  it("-a joins all eight types of the target, in join order", async () => {
    const result = await cli(["exec", "-t", "42", "-a", "--", "sh"]);
    expect(result.specs[0].join).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((type) => pidRef(type, 42)));
  });

  it("-a sends the target's user namespace too, asking nothing first: the daemon skips a namespace the program is in already (as nsenter -a does)", async () => {
    const result = await cli(["exec", "-t", "42", "-a", "--", "sh"]);
    expect(result.inspected).toHaveLength(0);
    expect(result.specs[0].join).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((type) => pidRef(type, 42)));
  });

  it("--env --cwd --uid --gid --timeout-program --handle map through; KEY alone copies lxnsctl's value", async () => {
    const argv = ["exec", "-t", "7", "-m", "--env", "A=B", "--env", "TERM", "--env", "UNSET", "--cwd", "/tmp", "--uid", "1", "-G", "2"];
    argv.push("--timeout-program", "1.5", "--handle", "h-1", "--", "ls", "-l", "--color");
    const result = await cli(argv);
    expect(result.stderr).toBe("");
    expect(result.specs[0]).toEqual({
      argv: ["ls", "-l", "--color"],
      env: [...DEFAULT_ENV, "A=B", "TERM=xterm"],
      cwd: "/tmp",
      uid: 1,
      gid: 2,
      timeout: expect.objectContaining({ seconds: 1n, nanos: 500000000 }),
      join: [pidRef(NamespaceType.MNT, 7), create(NamespaceRefSchema, { source: { case: "handle", value: "h-1" } })],
    });
  });

  it("--preserve-credentials sets preserve_credentials", async () => {
    const result = await cli(["exec", "-t", "7", "-U", "-n", "--preserve-credentials", "--", "id"]);
    expect(result.specs[0].preserveCredentials).toBe(true);
    expect((await cli(["exec", "-t", "7", "-U", "--", "id"])).specs[0].preserveCredentials).toBeUndefined();
  });

  it("the global --timeout becomes the call's deadline", async () => {
    const fake = fakeClient();
    const exec = fake.client.exec;
    const options: unknown[] = [];
    (fake.client as { exec: unknown }).exec = (spec: ExecSpecInit, callOptions: unknown) => {
      options.push(callOptions);
      return exec(spec);
    };
    await cli(["--timeout", "5000", "exec", "--handle", "h", "--", "true"], fake);
    expect(options).toEqual([{ timeoutMs: 5000 }]);
  });
});

describe("lxnsctl unshare -- CMD: flags → ExecSpec", () => {
  it("unshare -r -n --pid --fork --mount-proc -- sh -c x creates user, net, mnt, pid with mapRoot", async () => {
    const result = await cli(["unshare", "-r", "-n", "--pid", "--fork", "--mount-proc", "--", "sh", "-c", "x"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.specs[0]).toMatchObject({
      argv: ["sh", "-c", "x"],
      unshare: [NamespaceType.USER, NamespaceType.NET, NamespaceType.MNT, NamespaceType.PID],
      unshareOptions: { mapRoot: true },
    });
    expect(result.specs[0].join).toBeUndefined();
  });

  it("passes the namespace options and program options", async () => {
    const argv = ["unshare", "-u", "--hostname", "box", "-T", "--boottime", "60", "-n", "--loopback-up", "-S", "0", "-w", "/", "--", "hostname"];
    const result = await cli(argv);
    expect(result.specs[0]).toMatchObject({
      argv: ["hostname"],
      uid: 0,
      cwd: "/",
      unshare: [NamespaceType.NET, NamespaceType.TIME, NamespaceType.UTS],
      unshareOptions: { hostname: "box", loopbackUp: true, boottimeOffset: { seconds: 60n, nanos: 0 } },
    });
  });
});

describe("lxnsctl exec: exit status", () => {
  it.each([
    [{ code: 0 }, 0],
    [{ code: 3 }, 3],
    [{ signal: 9 }, 137],
    [{ signal: 15 }, 143],
  ])("%j → %d", async (exit, expected) => {
    expect(exitStatusOf(exit)).toBe(expected);
    const result = await cli(["exec", "--handle", "h", "--", "prog"], fakeClient({ exit }));
    expect(result.code).toBe(expected);
    expect(result.stderr).toBe("");
  });

  const execveError = (code: status, errno: string) =>
    new LxnsdError(code, `execve: ${errno}`, create(ErrorInfoSchema, { reason: errno, metadata: { errno, syscall: "execve", step: "execve" } }));

  it.each([
    ["execve ENOENT (NOT_FOUND)", execveError(status.NOT_FOUND, "ENOENT"), 127],
    ["execve ENOTDIR", execveError(status.FAILED_PRECONDITION, "ENOTDIR"), 127],
    ["execve EACCES (PERMISSION_DENIED)", execveError(status.PERMISSION_DENIED, "EACCES"), 126],
    ["execve ENOEXEC", execveError(status.INVALID_ARGUMENT, "ENOEXEC"), 126],
    ["a target that is gone (NOT_FOUND, not execve)", new LxnsdError(status.NOT_FOUND, "open /proc/42/ns/net: ESRCH"), 1],
    ["DEADLINE_EXCEEDED", new LxnsdError(status.DEADLINE_EXCEEDED, "the program ran past its timeout"), 1],
  ])("%s → %d, reported as CODE: message", async (_name, error, expected) => {
    expect(failureStatusOf(error)).toBe(expected);
    const result = await cli(["exec", "--handle", "h", "--", "prog"], fakeClient({ error }));
    expect(result.code).toBe(expected);
    expect(result.stderr).toBe(`lxnsctl: ${error.codeName}: ${error.message}\n`);
  });
});

describe("lxnsctl exec: stdio and signals", () => {
  it("copies stdout and stderr chunks, UTF-8 split across chunks kept whole", async () => {
    const euro = Buffer.from("€");
    const output: OutputChunk[] = [
      { stream: "stdout", data: Buffer.concat([Buffer.from("a"), euro.subarray(0, 1)]) },
      { stream: "stderr", data: Buffer.from("oops\n") },
      { stream: "stdout", data: Buffer.concat([euro.subarray(1), Buffer.from("b\n")]) },
    ];
    const result = await cli(["exec", "--handle", "h", "--", "prog"], fakeClient({ output }));
    expect(result.stdout).toBe("a€b\n");
    expect(result.stderr).toBe("oops\n");
  });

  it("writeOutput gets the bytes, in order, one chunk awaited before the next", async () => {
    const output: OutputChunk[] = [1, 2, 3].map((n) => ({ stream: "stdout", data: Buffer.from([n]) }));
    const seen: number[] = [];
    let pending = 0;
    const writeOutput = async (_stream: string, data: Uint8Array) => {
      expect(pending).toBe(0);
      pending++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      seen.push(data[0]);
      pending--;
    };
    await cli(["exec", "--handle", "h", "--", "prog"], fakeClient({ output }), { writeOutput });
    expect(seen).toEqual([1, 2, 3]);
  });

  it("forwards stdin and closes the program's stdin at EOF", async () => {
    const stdin = Readable.from([Buffer.from("hello "), Buffer.from("world\n")]);
    const result = await cli(["exec", "--handle", "h", "--", "cat"], fakeClient({ waitForStdinClose: true }), { stdin });
    expect(result.sessions[0].stdinClosed).toBe(true);
    expect(Buffer.concat(result.sessions[0].writes).toString()).toBe("hello world\n");
    expect(result.stdout).toBe("hello world\n");
    expect(result.code).toBe(0);
  });

  it("--no-stdin closes the program's stdin at once and leaves lxnsctl's alone", async () => {
    const stdin = Readable.from([Buffer.from("unread")]);
    const result = await cli(["exec", "--no-stdin", "--handle", "h", "--", "cat"], fakeClient({ waitForStdinClose: true }), { stdin });
    expect(result.sessions[0].stdinClosed).toBe(true);
    expect(result.sessions[0].writes).toEqual([]);
    expect(stdin.destroyed).toBe(false);
  });

  it("without io.stdin the program's stdin is closed at once", async () => {
    const result = await cli(["exec", "--handle", "h", "--", "cat"], fakeClient({ waitForStdinClose: true }));
    expect(result.sessions[0].stdinClosed).toBe(true);
  });

  it("a stdin that never ends is let go of when the program exits", async () => {
    const stdin = new Readable({ read() {} });
    const result = await cli(["exec", "--handle", "h", "--", "true"], fakeClient({ exit: { code: 0 } }), { stdin });
    expect(result.code).toBe(0);
    expect(stdin.destroyed).toBe(true);
  });

  it("SIGINT received by lxnsctl goes to the program; its death by it is 130", async () => {
    let listener: ((signal: NodeJS.Signals) => void) | undefined;
    let unsubscribed = false;
    const onSignal = (l: (signal: NodeJS.Signals) => void) => {
      listener = l;
      setTimeout(() => listener!("SIGINT"), 5);
      return () => void (unsubscribed = true);
    };
    const result = await cli(["exec", "--handle", "h", "--", "sleep", "100"], fakeClient({ waitForSignal: true }), { onSignal });
    expect(result.sessions[0].signals).toEqual([2]);
    expect(result.code).toBe(130);
    expect(unsubscribed).toBe(true);
  });

  it("a local stdout that fails (EPIPE) cancels the program and exits 141", async () => {
    const writeOutput = async () => {
      throw Object.assign(new Error("write EPIPE"), { code: "EPIPE" });
    };
    const result = await cli(["exec", "--handle", "h", "--", "yes"], fakeClient({ output: [{ stream: "stdout", data: Buffer.from("y\n") }] }), { writeOutput });
    expect(result.code).toBe(141);
    expect(result.sessions[0].cancelled).toBe(true);
  });
});

describe("lxnsctl unshare: user maps as util-linux unshare spells them, and options checked before any call", () => {
  const euid = process.geteuid!();
  const egid = process.getegid!();
  const line = (insideId: number, outsideId: number) => ({ insideId, outsideId, length: 1 });

  it("-c maps lxnsctl's effective ids to themselves; --map-user/--map-group to the ids given; each implies --user", async () => {
    const current = await cli(["unshare", "-c", "-n", "--", "id"]);
    expect(current.specs[0]).toMatchObject({ unshare: [NamespaceType.USER, NamespaceType.NET], unshareOptions: { mapRoot: false, uidMap: [line(euid, euid)], gidMap: [line(egid, egid)] } });
    const user = await cli(["unshare", "--map-user", "1000", "--map-group", "100", "--", "id"]);
    expect(user.specs[0]).toMatchObject({ unshare: [NamespaceType.USER], unshareOptions: { uidMap: [line(1000, euid)], gidMap: [line(100, egid)] } });
    const onlyUser = await cli(["unshare", "--map-user", "7", "--", "id"]);
    expect(onlyUser.specs[0].unshareOptions).toMatchObject({ uidMap: [line(7, euid)], gidMap: [] });
  });

  it.each([
    [["unshare", "-n", "--monotonic", "1", "--", "true"], "--monotonic needs -T/--time"],
    [["unshare", "-n", "--boottime", "1"], "--boottime needs -T/--time"],
    [["unshare", "-n", "--hostname", "box", "--", "true"], "--hostname needs -u/--uts"],
    [["unshare", "-u", "--loopback-up", "--", "true"], "--loopback-up needs -n/--net"],
    [["unshare", "-r", "--map-users", "0:0:1", "--", "true"], "-r/--map-root-user and --map-users: give one mapping"],
    [["unshare", "-c", "--map-user", "5", "--", "true"], "-c/--map-current-user and --map-user: give one mapping"],
  ])("%j exits 2 naming the flag, without a call", async (argv, message) => {
    const result = await cli(argv);
    expect(result.code).toBe(2);
    expect(result.specs).toEqual([]);
    expect(result.stderr).toContain(`lxnsctl: ${message}`);
  });
});

describe("lxnsctl exec: program and environment as nsenter reads them", () => {
  it("the first argument that is not an option starts the program; -- is still allowed", async () => {
    for (const argv of [
      ["exec", "-t", "42", "-n", "sh", "-c", "echo $0", "-t"],
      ["exec", "-t", "42", "-n", "--", "sh", "-c", "echo $0", "-t"],
      ["exec", "-t42", "-n", "sh", "-c", "echo $0", "-t"],
      ["exec", "--target", "42", "--env", "A=B", "-n", "sh", "-c", "echo $0", "-t"],
      ["--timeout", "5000", "exec", "-n", "-t", "42", "sh", "-c", "echo $0", "-t"],
    ]) {
      const result = await cli(argv);
      expect(result.stderr).toBe("");
      expect(result.specs[0]).toMatchObject({ argv: ["sh", "-c", "echo $0", "-t"], join: [pidRef(NamespaceType.NET, 42)] });
    }
    const unshare = await cli(["unshare", "-n", "ls", "-l"]);
    expect(unshare.specs[0]).toMatchObject({ argv: ["ls", "-l"], unshare: [NamespaceType.NET] });
  });

  it("the working directory, as nsenter leaves it: lxnsctl's own where the program stays in our mount namespace, else / of the program's; -w relative against that; -W inside the program's", async () => {
    expect((await cli(["exec", "-t", "1", "-n", "--", "pwd"])).specs[0].cwd).toBe(process.cwd());
    expect((await cli(["exec", "-t", "1", "-n", "-w", "sub/dir", "--", "pwd"])).specs[0].cwd).toBe(path.join(process.cwd(), "sub/dir"));
    expect((await cli(["unshare", "-u", "--", "pwd"])).specs[0].cwd).toBe(process.cwd());
    expect((await cli(["exec", "-t", "1", "-m", "--", "pwd"])).specs[0].cwd).toBe("");
    expect((await cli(["exec", "-t", "1", "-a", "--", "pwd"])).specs[0].cwd).toBe("");
    expect((await cli(["unshare", "-m", "--", "pwd"])).specs[0].cwd).toBe("");
    expect((await cli(["exec", "-t", "1", "-m", "-w", "rel/dir", "--", "pwd"])).specs[0].cwd).toBe("/rel/dir");
    expect((await cli(["exec", "-t", "1", "-a", "-w", "rel", "pwd"])).specs[0].cwd).toBe("/rel");
    expect((await cli(["unshare", "-m", "-w", "..", "--", "pwd"])).specs[0].cwd).toBe("/");
    expect((await cli(["exec", "-t", "1", "-m", "-W", "/srv", "--", "pwd"])).specs[0].cwd).toBe("/srv");
    // A handle's type is the daemon's to say: a mount namespace leaves ours.
    const mntHandle = fakeClient({}, () => create(InspectResponseSchema, { info: { type: NamespaceType.MNT } }));
    expect((await cli(["exec", "--handle", "h-1", "--", "pwd"], mntHandle)).specs[0].cwd).toBe("");
    const netHandle = fakeClient({}, () => create(InspectResponseSchema, { info: { type: NamespaceType.NET } }));
    expect((await cli(["exec", "--handle", "h-1", "--", "pwd"], netHandle)).specs[0].cwd).toBe(process.cwd());
    for (const [argv, message] of [
      [["exec", "-t", "1", "-m", "-W", "rel", "pwd"], "-W/--wdns rel: must be an absolute path"],
      [["exec", "-t", "1", "-m", "-W", "/a", "-w", "/b", "pwd"], "-w/--cwd and -W/--wdns: give one"],
    ] as const) {
      const result = await cli([...argv]);
      expect(result).toMatchObject({ code: 2, specs: [] });
      expect(result.stderr).toContain(`lxnsctl: ${message}`);
    }
  });

  it("-it is refused with a message pointing to --tty (it read as --ipc --target)", async () => {
    const result = await cli(["exec", "-it", "42", "-a", "--", "sh"]);
    expect(result.code).toBe(2);
    expect(result.specs).toEqual([]);
    expect(result.stderr).toMatch(/^lxnsctl: -it: .*--tty/);
  });

  it("no program: the target's $SHELL, else /bin/sh", async () => {
    expect((await cli(["exec", "-t", "2147483646", "-n"])).specs[0].argv).toEqual(["/bin/sh"]);
    const procRoot = mkdtempSync(path.join(tmpdir(), "lxnsctl-proc-"));
    try {
      mkdirSync(path.join(procRoot, "42"));
      writeFileSync(path.join(procRoot, "42", "environ"), "A=1\0SHELL=/bin/bash\0B=2\0");
      expect(targetShell(42, procRoot)).toBe("/bin/bash");
      writeFileSync(path.join(procRoot, "42", "environ"), "A=1\0");
      expect(targetShell(42, procRoot)).toBe("/bin/sh");
    } finally {
      rmSync(procRoot, { recursive: true });
    }
  });

  it("--env adds to the defaults (PATH and HOME kept unless given); --env-all passes lxnsctl's environment; TERM when stdin is a terminal", async () => {
    const env = { TERM: "xterm", LANG: "C.UTF-8", PATH: "/mine" };
    const specOf = async (argv: string[], stdin?: Readable) => (await cli(["exec", "-t", "1", "-n", ...argv, "--", "env"], fakeClient(), { env, ...(stdin ? { stdin } : {}) })).specs[0].env;
    expect(await specOf([])).toEqual([]);
    expect(await specOf(["--env", "A=B"])).toEqual([...DEFAULT_ENV, "A=B"]);
    expect(await specOf(["--env", "PATH=/x", "--env", "LANG"])).toEqual(["PATH=/x", "HOME=/", "LANG=C.UTF-8"]);
    expect(await specOf(["--env-all", "--env", "A=B"])).toEqual(["TERM=xterm", "LANG=C.UTF-8", "PATH=/mine", "A=B"]);
    const terminal = Object.assign(Readable.from([]), { isTTY: true });
    expect(await specOf([], terminal)).toEqual([...DEFAULT_ENV, "TERM=xterm"]);
    const withTerm = await cli(["exec", "-t", "1", "-n", "--", "env"], fakeClient(), { env: {}, stdin: Object.assign(Readable.from([]), { isTTY: true }) });
    expect(withTerm.specs[0].env).toEqual([]);
  });
});

describe("lxnsctl exec and unshare -- CMD: malformed command lines exit 2 without a call", () => {
  it.each(
    [
      ["exec", "--", "hostname"], // nothing to join
      ["exec", "-n", "--", "hostname"], // a type without a target
      ["exec", "-t", "42", "--", "hostname"], // a target without a type
      ["exec", "-t", "42", "-n", "--", ""],
      ["exec", "-it", "42", "-a", "--", "sh"], // docker's -it: refused, pointing to --tty
      ["exec", "-ti", "42", "-a", "sh"],
      ["exec", "-t", "x", "-n", "--", "true"],
      ["exec", "-t", "42", "-n", "--uid", "-1", "--", "true"],
      ["exec", "-t", "42", "-n", "--gid", "4294967295", "--", "true"],
      ["exec", "-t", "42", "-n", "--env", "=x", "--", "true"],
      ["exec", "-t", "42", "-n", "--timeout-program", "-1", "--", "true"],
      ["unshare", "--", "sh"], // no type
      ["unshare", "-n", "--lease", "5", "--", "sh"],
      ["unshare", "-m", "--mount-proc", "--", "sh"], // --mount-proc without --pid
      ["unshare", "-p", "--mount-proc"], // --mount-proc without a program
      ["unshare", "-n", "--uid", "1"], // program options without a program
    ].map((argv) => [argv.join(" "), argv]),
  )("%s", async (_name, argv) => {
    const result = await cli(argv);
    expect(result.code).toBe(2);
    expect(result.specs).toEqual([]);
    expect(result.stderr).toMatch(/^lxnsctl: |^Usage: /);
  });

  it("--help of both commands names the exit statuses; lxnsctl --help lists exec", async () => {
    for (const command of ["exec", "unshare"]) {
      const result = await cli([command, "--help"]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/127 +the program was not found/);
      expect(result.stdout).toMatch(/128\+N/);
    }
    const top = await cli(["--help"]);
    expect(top.stdout).toMatch(/^ {2}exec \[options\]/m);
    expect(top.stdout).toMatch(/^ {2}unshare \[options\]/m);
  });
});

/** A local terminal that records what lxnsctl did to it. */
function fakeTerminal(interactive: boolean, size?: { rows: number; cols: number }) {
  const log: string[] = [];
  let resize: (() => void) | undefined;
  let current = size;
  const terminal: LocalTerminal = {
    interactive,
    size: () => current,
    enterRaw: () => {
      log.push("raw");
      let restored = false;
      return () => {
        if (!restored) log.push("restored");
        restored = true;
      };
    },
    onResize: (listener) => {
      resize = listener;
      return () => (resize = undefined);
    },
  };
  const windowChanged = (rows: number, cols: number) => {
    current = { rows, cols };
    resize?.();
  };
  return { terminal, log, windowChanged };
}

describe("lxnsctl exec on a terminal (--tty, --no-tty)", () => {
  it("uses a terminal when stdin and stdout are terminals: tty and the window's size in the spec, raw mode restored, resizes sent", async () => {
    const local = fakeTerminal(true, { rows: 24, cols: 80 });
    const fake = fakeClient({ output: [{ stream: "stdout", data: Buffer.from("$ ") }], exit: { code: 7 } });
    const session = fake.sessions;
    const running = cli(["exec", "--handle", "h", "--", "sh"], fake, { terminal: local.terminal });
    const result = await running;
    expect(result.specs[0]).toMatchObject({ tty: true, terminalSize: { rows: 24, cols: 80 }, argv: ["sh"] });
    expect(result.code).toBe(7);
    expect(result.stdout).toBe("$ ");
    expect(local.log).toEqual(["raw", "restored"]);
    expect(session).toHaveLength(1);
  });

  it("sends every window size change as a resize while the program runs", async () => {
    const local = fakeTerminal(true, { rows: 24, cols: 80 });
    const fake = fakeClient({ waitForSignal: true });
    let sendSignal: ((signal: NodeJS.Signals) => void) | undefined;
    const running = cli(["exec", "--handle", "h", "--", "sh"], fake, { terminal: local.terminal, onSignal: (l) => ((sendSignal = l), () => undefined) });
    await waitFor(() => fake.sessions.length === 1 && sendSignal !== undefined, 2000, "the session");
    local.windowChanged(40, 120);
    expect(fake.sessions[0].resizes).toEqual([[40, 120]]);
    sendSignal!("SIGINT"); // to the terminal's foreground job; the fake then dies of it
    const result = await running;
    expect(fake.sessions[0].signals).toEqual([2]);
    expect(result.code).toBe(130);
    expect(local.log).toEqual(["raw", "restored"]);
  });

  it("SIGTERM to lxnsctl ends the call (cancel), restores the terminal, status 143", async () => {
    const local = fakeTerminal(true, { rows: 24, cols: 80 });
    const fake = fakeClient({ waitForSignal: true });
    let sendSignal: ((signal: NodeJS.Signals) => void) | undefined;
    const running = cli(["exec", "--handle", "h", "--", "sh"], fake, { terminal: local.terminal, onSignal: (l) => ((sendSignal = l), () => undefined) });
    await waitFor(() => sendSignal !== undefined, 2000, "the session");
    sendSignal!("SIGTERM");
    expect(local.log).toEqual(["raw", "restored"]);
    expect(fake.sessions[0].cancelled).toBe(true);
    fake.sessions[0].signal(9); // the fake's call ends (a real one ends CANCELLED)
    expect((await running).code).toBe(143);
  });

  it("restores the terminal before reporting a daemon error", async () => {
    const local = fakeTerminal(true, { rows: 24, cols: 80 });
    const error = new LxnsdError(status.NOT_FOUND, "gone");
    const result = await cli(["exec", "--handle", "h", "--", "sh"], fakeClient({ error }), { terminal: local.terminal });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("NOT_FOUND");
    expect(local.log).toEqual(["raw", "restored"]);
  });

  it("--no-tty: pipes even on a terminal; --tty: a terminal without one (no size to send); not a terminal: pipes", async () => {
    const local = fakeTerminal(true, { rows: 24, cols: 80 });
    const noTty = await cli(["exec", "--no-tty", "--handle", "h", "--", "sh"], fakeClient(), { terminal: local.terminal });
    expect(noTty.specs[0].tty).toBeFalsy();
    expect(local.log).toEqual([]);
    const pipes = fakeTerminal(false);
    const forced = await cli(["exec", "--tty", "--handle", "h", "--", "sh"], fakeClient(), { terminal: pipes.terminal });
    expect(forced.specs[0]).toMatchObject({ tty: true });
    expect(forced.specs[0].terminalSize).toBeUndefined();
    const plain = await cli(["exec", "--handle", "h", "--", "sh"], fakeClient(), { terminal: pipes.terminal });
    expect(plain.specs[0].tty).toBeFalsy();
    const unshare = await cli(["unshare", "-n", "--tty", "--", "sh"], fakeClient(), { terminal: pipes.terminal });
    expect(unshare.specs[0]).toMatchObject({ tty: true });
  });
});
