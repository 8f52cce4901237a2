import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { plainMessage } from "../../client/cli/plain-errors";
import * as path from "node:path";
import { LXNSD_VERSION } from "../../api/version";
import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import {
  GetCurrentNamespacesResponseSchema,
  GetLimitResponseSchema,
  InspectResponseSchema,
  OpenResponseSchema,
  SetLimitResponseSchema,
  UnshareRequestSchema,
  UnshareResponseSchema,
} from "../../api/gen/lxnsd/v1/namespace_service_pb";
import { IdMappingSchema, NamespaceRefSchema, NamespaceType, Relation } from "../../api/gen/lxnsd/v1/types_pb";
import type { LxnsdClient } from "../../client";
import { LxnsdError } from "../../client/lxnsd-error";
import { captureCli } from "../helpers/cli";
import { buildProgram } from "../../client/cli/main";
import { CliContext } from "../../client/cli/cli-context";
import { parseSeconds } from "../../client/cli/parse-values";

/** One call the fake client saw. */
interface Call {
  method: string;
  request: unknown;
  options: unknown;
}

/** A client that records requests and answers from `responses` (a value, or an Error to reject with). */
function fakeClient(responses: Record<string, unknown> = {}): { client: LxnsdClient; calls: Call[]; addresses: string[] } {
  const calls: Call[] = [];
  const client = new Proxy({} as Record<string, unknown>, {
    get: (target, method: string) => {
      if (method in target) return target[method];
      if (method === "disconnect") return () => undefined;
      return async (request: unknown, options: unknown) => {
        calls.push({ method, request, options });
        const answer = responses[method];
        if (answer instanceof Error) throw answer;
        return answer;
      };
    },
  }) as unknown as LxnsdClient;
  return { client, calls, addresses: [] };
}

/** Runs the CLI in-process against `fake`, capturing its output. */
async function cli(argv: string[], fake = fakeClient(), env: Record<string, string> = {}) {
  const output = await captureCli(argv, {
    env,
    connect: (address) => {
      fake.addresses.push(address);
      return fake.client;
    },
  });
  return { ...output, calls: fake.calls, addresses: fake.addresses };
}

const NET_INFO = { type: NamespaceType.NET, nsId: 4026532000n, device: 4n, ownerUserNsId: 4026531837n };

describe("lxnsctl inspect: flags → NamespaceRef", () => {
  const fake = () => fakeClient({ inspect: create(InspectResponseSchema, { info: NET_INFO }) });

  it("-t 42 -n --owner", async () => {
    const result = await cli(["inspect", "-t", "42", "-n", "--owner"], fake());
    expect(result.code).toBe(0);
    expect(result.calls).toHaveLength(1);
    expect(result.calls[0].method).toBe("inspect");
    expect(result.calls[0].request).toEqual({
      ref: create(NamespaceRefSchema, { type: NamespaceType.NET, source: { case: "pid", value: 42 }, relation: Relation.OWNER }),
    });
  });

  it.each([
    [["--self", "--pid", "--parent"], { type: NamespaceType.PID, source: { case: "self", value: true }, relation: Relation.PARENT }],
    [["--handle", "h-1"], { source: { case: "handle", value: "h-1" } }],
    [["--path", "/proc/1/ns/mnt", "-m"], { type: NamespaceType.MNT, source: { case: "path", value: "/proc/1/ns/mnt" } }],
    [["--target", "7", "--type", "uts"], { type: NamespaceType.UTS, source: { case: "pid", value: 7 } }],
    [["-t", "7", "--type", "mount"], { type: NamespaceType.MNT, source: { case: "pid", value: 7 } }],
    [["-t", "7", "-U"], { type: NamespaceType.USER, source: { case: "pid", value: 7 } }],
    [["-t", "7", "-C"], { type: NamespaceType.CGROUP, source: { case: "pid", value: 7 } }],
    [["-t", "7", "-i"], { type: NamespaceType.IPC, source: { case: "pid", value: 7 } }],
    [["-t", "7", "-T"], { type: NamespaceType.TIME, source: { case: "pid", value: 7 } }],
    [["-t", "7", "-u"], { type: NamespaceType.UTS, source: { case: "pid", value: 7 } }],
  ] as const)("%j", async (flags, ref) => {
    const result = await cli(["inspect", ...flags], fake());
    expect(result.stderr).toBe("");
    expect(result.calls[0].request).toEqual({ ref: create(NamespaceRefSchema, ref as never) });
  });

  it("prints key/value lines, '-' for what is unset", async () => {
    const result = await cli(["inspect", "-t", "1", "-n"], fake());
    expect(result.stdout.split("\n")).toEqual([
      "TYPE          net",
      "NS            4026532000",
      "DEVICE        4",
      "OWNER-USERNS  4026531837",
      "OWNER-UID     -",
      "PARENT        -",
      "",
    ]);
  });

  it("--json prints the InspectResponse as protobuf JSON", async () => {
    const result = await cli(["--json", "inspect", "-t", "1", "-n"], fake());
    expect(JSON.parse(result.stdout)).toEqual({ info: { type: "NAMESPACE_TYPE_NET", nsId: "4026532000", device: "4", ownerUserNsId: "4026531837" } });
  });

  it("--version prints lxnsctl's version, the package's", async () => {
    const result = await cli(["--version"], fake());
    expect(result).toMatchObject({ code: 0, stdout: `lxnsctl ${LXNSD_VERSION}\n` });
    expect(LXNSD_VERSION).toBe(JSON.parse(readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")).version);
    // The daemon's, compiled (npm run build).
    const daemon = spawnSync(process.execPath, [path.join(__dirname, "..", "..", "dist", "server", "main.js"), "--version"], { encoding: "utf8" });
    expect({ status: daemon.status, stdout: daemon.stdout }).toEqual({ status: 0, stdout: `lxnsd ${LXNSD_VERSION}\n` });
  });

  it("a socket closed to the caller (EACCES): its mode and the way in, not grpc-js' text", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "lxnsctl-eacces-"));
    const socket = path.join(dir, "lxnsd.sock");
    writeFileSync(socket, "");
    chmodSync(socket, 0o660);
    try {
      const err = new LxnsdError(status.UNAVAILABLE, `No connection established. Last error: Error: connect EACCES ${socket}. Resolution note: `);
      expect(plainMessage(err, { address: `unix:${socket}` })).toBe(`UNAVAILABLE: cannot connect to unix:${socket}: permission denied: the socket is mode 0660; ask for its group (--socket-group)`);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it("every command's help has examples; the global options are listed once, in lxnsctl --help", async () => {
    const top = await cli(["--help"], fake());
    expect(top.stdout.match(/--address <addr>/g)).toHaveLength(1);
    const commands = [...top.stdout.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]).filter((name) => name !== "help" && name !== "lxnsctl");
    expect(commands).toEqual(expect.arrayContaining(["exec", "unshare", "ls", "mount", "close", "current", "unpin"]));
    for (const command of [...commands.map((c) => [c]), ["mount", "bind"]]) {
      const help = await cli([...command, "--help"], fake());
      expect({ command, examples: /\nExamples:\n {2}lxnsctl /.test(help.stdout), globals: help.stdout.includes("--address") }).toEqual({ command, examples: true, globals: false });
    }
  });

  it("global options may follow the command", async () => {
    const result = await cli(["inspect", "-t", "1", "-n", "--json", "--timeout", "1500", "--address", "unix:/tmp/x.sock"], fake());
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).info.nsId).toBe("4026532000");
    expect(result.calls[0].options).toEqual({ timeoutMs: 1500 });
    expect(result.addresses).toEqual(["unix:/tmp/x.sock"]);
  });

  it("takes the address from LXNSD_ADDRESS when --address is absent", async () => {
    const result = await cli(["inspect", "-t", "1", "-n"], fake(), { LXNSD_ADDRESS: "unix:/tmp/env.sock" });
    expect(result.addresses).toEqual(["unix:/tmp/env.sock"]);
  });
});

describe("lxnsctl: malformed command lines exit 2 without a call", () => {
  it.each(
    [
      ["inspect", "-n"], // no target
      ["inspect", "-t", "42"], // no type with a pid
      ["inspect", "--self"], // no type with --self
      ["inspect", "-t", "42", "-n", "-u"], // two types
      ["inspect", "-t", "42", "-n", "--type", "uts"], // two types
      ["inspect", "-t", "abc", "-n"], // non-numeric pid
      ["inspect", "-t", "0", "-n"], // pid ≤ 0
      ["inspect", "-t", "12x", "-n"],
      ["inspect", "-t", "1", "--self", "-n"], // two targets
      ["inspect", "-t", "1", "-n", "--owner", "--parent"],
      ["inspect", "--type", "bogus", "--self"],
      ["inspect", "--bogus"],
      ["open", "-t", "1", "-n", "--lease", "-5"],
      ["close"],
      ["unshare"], // no type
      ["unshare", "-n", "--map-users", "1:2"],
      ["unshare", "-T", "--boottime", "soon"],
      ["limit"],
      ["limit", "bogus"],
      ["limit", "user", "-1"],
      ["limit", "user", "many"],
      ["limit", "user", "--userns-pid", "1", "--userns-handle", "h"],
      ["--timeout", "soon", "current"],
      ["frobnicate"],
      [],
    ].map((argv) => [argv.join(" ") || "(no arguments)", argv]),
  )("%s", async (_name, argv) => {
    const result = await cli(argv);
    expect(result.code).toBe(2);
    expect(result.calls).toEqual([]);
    expect(result.stderr).toMatch(/^lxnsctl: |^Usage: /);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("--help exits 0 and prints usage to stdout", async () => {
    const result = await cli(["unshare", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Usage: lxnsctl unshare/);
    expect(result.stdout).toMatch(/--map-users <inner:outer:count>/);
  });
});

describe("lxnsctl unshare: flags → UnshareRequest", () => {
  const fake = () => fakeClient({ unshare: create(UnshareResponseSchema, {}) });

  it("-r -n -u -T --hostname x --boottime 3600", async () => {
    const result = await cli(["unshare", "-r", "-n", "-u", "-T", "--hostname", "x", "--boottime", "3600"], fake());
    expect(result.code).toBe(0);
    expect(result.calls[0].method).toBe("unshare");
    expect(result.calls[0].request).toEqual(
      create(UnshareRequestSchema, {
        types: [NamespaceType.USER, NamespaceType.NET, NamespaceType.TIME, NamespaceType.UTS],
        options: { mapRoot: true, hostname: "x", boottimeOffset: { seconds: 3600n, nanos: 0 } },
      }),
    );
  });

  it("long forms, repeated maps, negative fractional offsets, lease", async () => {
    const argv = ["unshare", "--user", "--cgroup", "--ipc", "--net", "--mount", "--pid", "--time", "--uts"];
    argv.push("--map-users", "0:100000:65536", "--map-users", "65536:1000:1", "--map-groups", "2000,0,1");
    argv.push("--monotonic", "-1.5", "--boottime", ".25", "--loopback-up", "--lease", "90");
    const result = await cli(argv, fake());
    expect(result.stderr).toBe("");
    expect(result.calls[0].request).toEqual(
      create(UnshareRequestSchema, {
        types: [1, 2, 3, 4, 5, 6, 7, 8],
        options: {
          uidMap: [
            { insideId: 0, outsideId: 100000, length: 65536 },
            { insideId: 65536, outsideId: 1000, length: 1 },
          ],
          gidMap: [{ insideId: 0, outsideId: 2000, length: 1 }],
          monotonicOffset: { seconds: -1n, nanos: -500000000 },
          boottimeOffset: { seconds: 0n, nanos: 250000000 },
          loopbackUp: true,
        },
        lease: { seconds: 90n, nanos: 0 },
      }),
    );
  });

  it("--target PID names the process the namespaces are created as (not with a command)", async () => {
    const result = await cli(["unshare", "-n", "--target", "4242"], fake());
    expect(result.calls[0].request).toEqual(
      create(UnshareRequestSchema, { types: [NamespaceType.NET], options: {}, target: { source: { case: "pid", value: 4242 } } }),
    );
    const withCommand = await cli(["unshare", "-n", "--target", "4242", "--", "true"], fake());
    expect(withCommand.code).toBe(2);
    expect(withCommand.calls).toEqual([]);
  });

  it("--map-users implies --user, as in util-linux", async () => {
    const result = await cli(["unshare", "-n", "--map-users", "0:1000:1"], fake());
    expect((result.calls[0].request as { types: NamespaceType[] }).types).toEqual([NamespaceType.USER, NamespaceType.NET]);
    expect((result.calls[0].request as { options: { uidMap: unknown[] } }).options.uidMap).toEqual([create(IdMappingSchema, { insideId: 0, outsideId: 1000, length: 1 })]);
  });

  it("prints HANDLE TYPE NS per handle", async () => {
    const response = create(UnshareResponseSchema, {
      handles: [
        { id: "h-aaaa", info: { type: NamespaceType.NET, nsId: 4026532100n } },
        { id: "h-bb", info: { type: NamespaceType.UTS, nsId: 4026532101n } },
      ],
    });
    const result = await cli(["unshare", "-n", "-u"], fakeClient({ unshare: response }));
    expect(result.stdout).toBe("h-aaaa  net  4026532100\nh-bb    uts  4026532101\n");
  });
});

describe("lxnsctl parse-values", () => {
  it.each([
    ["3600", 3600n, 0],
    ["-3600", -3600n, 0],
    ["1.5", 1n, 500000000],
    ["-0.000000001", 0n, -1],
    ["+2.000000003", 2n, 3],
  ])("seconds %s", (text, seconds, nanos) => {
    expect(parseSeconds(text)).toEqual(create(DurationSchema, { seconds, nanos }));
  });
});

describe("lxnsctl open, close, current, limit", () => {
  it("open prints the handle id, or the OpenResponse under --json", async () => {
    const response = create(OpenResponseSchema, { handle: { id: "h-xyz", info: NET_INFO } });
    const human = await cli(["open", "-t", "5", "-n", "--lease", "2.5"], fakeClient({ open: response }));
    expect(human.stdout).toBe("h-xyz\n");
    expect(human.calls[0].request).toEqual({
      ref: create(NamespaceRefSchema, { type: NamespaceType.NET, source: { case: "pid", value: 5 } }),
      lease: create(DurationSchema, { seconds: 2n, nanos: 500000000 }),
    });
    const json = await cli(["open", "-t", "5", "-n", "--json"], fakeClient({ open: response }));
    expect(JSON.parse(json.stdout).handle.id).toBe("h-xyz");
  });

  it("close closes every handle, reports failures and exits 1", async () => {
    const calls: string[] = [];
    const fake = fakeClient();
    (fake.client as unknown as { close: unknown }).close = async (request: { handle: string }) => {
      calls.push(request.handle);
      if (request.handle === "h-missing") throw new LxnsdError(status.NOT_FOUND, "no handle h-missing");
      return {};
    };
    const result = await cli(["close", "h-1", "h-missing", "h-2"], fake);
    expect(calls).toEqual(["h-1", "h-missing", "h-2"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("lxnsctl: NOT_FOUND: no handle h-missing\n");
  });

  it("current prints an lsns-like table", async () => {
    const response = create(GetCurrentNamespacesResponseSchema, {
      namespaces: [
        { type: NamespaceType.USER, nsId: 4026531837n, device: 4n, ownerUid: 0 },
        { type: NamespaceType.NET, nsId: 4026531840n, device: 4n, ownerUserNsId: 4026531837n },
      ],
    });
    const result = await cli(["current"], fakeClient({ getCurrentNamespaces: response }));
    expect(result.stdout.split("\n")[0]).toMatch(/^TYPE\s+NS\s+DEVICE\s+OWNER-USERNS\s+OWNER-UID\s+PARENT$/);
    expect(result.stdout.split("\n")[1]).toMatch(/^user\s+4026531837\s+4\s+-\s+0\s+-$/);
    expect(result.stdout.split("\n")[2]).toMatch(/^net\s+4026531840\s+4\s+4026531837\s+-\s+-$/);
  });

  it("limit TYPE gets, limit TYPE VALUE sets, in another user namespace on request", async () => {
    const get = await cli(["limit", "net"], fakeClient({ getLimit: create(GetLimitResponseSchema, { value: 1234n }) }));
    expect(get.stdout).toBe("1234\n");
    expect(get.calls[0]).toMatchObject({ method: "getLimit", request: { type: NamespaceType.NET, userNamespace: undefined } });
    const set = await cli(["limit", "user", "50", "--userns-handle", "h-u"], fakeClient({ setLimit: create(SetLimitResponseSchema, { value: 50n }) }));
    expect(set.stdout).toBe("50\n");
    expect(set.calls[0]).toMatchObject({
      method: "setLimit",
      request: { type: NamespaceType.USER, value: 50n, userNamespace: create(NamespaceRefSchema, { type: NamespaceType.USER, source: { case: "handle", value: "h-u" } }) },
    });
    const json = await cli(["--json", "limit", "pid", "--userns-pid", "9"], fakeClient({ getLimit: create(GetLimitResponseSchema, { value: 7n }) }));
    expect(JSON.parse(json.stdout)).toEqual({ value: "7" });
    expect((json.calls[0].request as { userNamespace: { source: unknown } }).userNamespace.source).toEqual({ case: "pid", value: 9 });
  });

  it("a daemon error prints CODE: message without a stack and exits 1", async () => {
    const result = await cli(["inspect", "-t", "99999", "-n"], fakeClient({ inspect: new LxnsdError(status.NOT_FOUND, "open /proc/99999/ns/net: ESRCH") }));
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("lxnsctl: NOT_FOUND: open /proc/99999/ns/net: ESRCH\n");
  });
});

describe("lxnsctl loads only the command it runs", () => {
  it("the top-level help (stubs, lazy-commands.ts) is what every command registered for real prints", async () => {
    const lazy = await captureCli(["--help"]);
    let real = "";
    const program = buildProgram(new CliContext({ stdout: (text) => (real += text), stderr: () => undefined }));
    program.outputHelp();
    expect(lazy).toEqual({ code: 0, stdout: real, stderr: "" });
    expect(real).toContain("  exec [options] [command...]");
  });

  it("help NAME and NAME --help show the real command; an unknown command is refused with exit 2", async () => {
    expect((await captureCli(["help", "pins"])).stdout).toContain("lxnsctl pins web");
    expect((await captureCli(["--timeout", "5", "pins", "--help"])).stdout).toContain("lxnsctl pins web");
    const unknown = await captureCli(["nosuch"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'nosuch'");
  });
});
