import { execFile } from "node:child_process";
import { chmodSync, statSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { LxnsdError, NamespaceType, createClient } from "../../../client";
import { unixSocketPath } from "../../../server/listeners/unix-socket";
import { nodeAsUser } from "../../helpers/as-user";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { newToken, tokenHash, writePolicy } from "../../helpers/policy";
import { describeRoot } from "../../helpers/privileged";
import { nsInode } from "../../helpers/proc";

const run = promisify(execFile);
const CLIENT = path.join(__dirname, "..", "..", "helpers", "inspect-client.js");
const REGROUP_CLIENT = path.join(__dirname, "..", "..", "helpers", "regroup-client.js");
const NOBODY = 65534;

/** Runs the inspect client as uid/gid 65534 (nobody/nogroup) and returns what it printed. */
async function inspectAsNobody(address: string, groups: number[] = []): Promise<{ code: string; nsId?: string; message?: string }> {
  const asNobody = nodeAsUser(NOBODY, CLIENT, [address], { groups });
  try {
    const { stdout } = await run(asNobody.argv[0], asNobody.argv.slice(1));
    return JSON.parse(stdout) as { code: string; nsId?: string };
  } finally {
    asNobody.done();
  }
}

describeRoot("unix socket peers", () => {
  const daemons: TestDaemon[] = [];
  const start = async (policy: unknown, socketGroup?: string) => {
    const daemon = await startDaemon({ policyFile: writePolicy(policy), ...(socketGroup ? { socketGroup } : {}) });
    daemons.push(daemon);
    chmodSync(path.dirname(unixSocketPath(daemon.address)!), 0o755);
    return daemon;
  };

  afterAll(async () => {
    for (const daemon of daemons) await daemon.stop();
  });

  it("--socket-group gives the socket that group, mode 0660, and the policy names its members by uid", async () => {
    const daemon = await start({ identities: [{ name: "nobody-reader", scopes: ["read"], "unix-uids": [NOBODY] }] }, "nogroup");
    const stat = statSync(unixSocketPath(daemon.address)!);
    expect(stat.mode & 0o777).toBe(0o660);
    expect(stat.gid).toBe(NOBODY);
    const result = await inspectAsNobody(daemon.address);
    expect(result.code).toBe("OK");
    expect(result.nsId).toBe(nsInode("self", "net").toString());
  });

  it("a peer the policy does not name is closed at accept (UNAVAILABLE), or UNAUTHENTICATED when tokens may name it; one it names by group is known", async () => {
    const unnamed = await start({ identities: [{ name: "somebody", scopes: ["read"], "unix-uids": [4242] }] }, "nogroup");
    expect((await inspectAsNobody(unnamed.address)).code).toBe("UNAVAILABLE");
    const withTokens = await start({ identities: [{ name: "somebody", scopes: ["read"], tokens: [tokenHash(newToken())] }] }, "nogroup");
    expect((await inspectAsNobody(withTokens.address)).code).toBe("UNAUTHENTICATED");
    const byGroup = await start({ identities: [{ name: "nogroup-readers", scopes: ["read"], "unix-gids": [NOBODY] }] }, "nogroup");
    expect((await inspectAsNobody(byGroup.address)).code).toBe("OK");
  });

  it("a supplementary group the peer had when it connected names it (SO_PEERGROUPS)", async () => {
    const group = 40000 + Math.floor(Math.random() * 20000);
    const daemon = await start({ identities: [{ name: "group-readers", scopes: ["read"], "unix-gids": [group] }] }, "nogroup");
    expect((await inspectAsNobody(daemon.address, [group + 1])).code).toBe("UNAVAILABLE");
    expect((await inspectAsNobody(daemon.address, [group + 1, group])).code).toBe("OK");
  });

  it("groups are the peer's at connect (SO_PEERGROUPS): a process that gains a group afterwards does not gain its identity", async () => {
    // The same pid showing another group in /proc/PID/status later is what pid reuse looks like to the daemon.
    const group = 40000 + Math.floor(Math.random() * 20000);
    const daemon = await start({
      identities: [
        { name: "operators", scopes: ["read", "exec", "admin"], "unix-gids": [group] },
        { name: "root-reader", scopes: ["read"], "unix-uids": [0] },
      ],
    });
    const { stdout } = await run("setpriv", ["--clear-groups", process.execPath, REGROUP_CLIENT, daemon.address, String(group)]);
    // Before the fix the Run passed as "operators" (groups read from /proc on every call).
    expect(JSON.parse(stdout)).toEqual({ before: "OK", after: "PERMISSION_DENIED" });
  });

  it("without a socket group another user cannot even connect", async () => {
    const daemon = await start({ identities: [{ name: "nobody-reader", scopes: ["read"], "unix-uids": [NOBODY] }] });
    expect((await inspectAsNobody(daemon.address)).code).toBe("UNAVAILABLE");
  });

  it("root holds every scope unless unix-owner-scopes says otherwise", async () => {
    const ref = { type: NamespaceType.NET, source: { case: "pid" as const, value: process.pid } };
    const narrowed = await start({ "unix-owner-scopes": ["read"] });
    const client = createClient(narrowed.address);
    try {
      expect((await client.inspect({ ref })).info!.nsId).toBe(nsInode("self", "net"));
      const err = await client.run({ argv: ["/bin/true"] }).catch((e: unknown) => e);
      expect((err as LxnsdError).codeName).toBe("PERMISSION_DENIED");
    } finally {
      client.disconnect();
    }
    const none = await start({ "unix-owner-scopes": [] });
    const locked = createClient(none.address);
    try {
      // Known to nobody: closed at accept.
      const err = await locked.inspect({ ref }).catch((e: unknown) => e);
      expect((err as LxnsdError).codeName).toBe("UNAVAILABLE");
    } finally {
      locked.disconnect();
    }
  });
});
