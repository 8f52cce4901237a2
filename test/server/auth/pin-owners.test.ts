import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NamespaceType, createClient } from "../../../client";
import type { LxnsdClient } from "../../../client";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { reasonOf } from "../../helpers/outcome";
import { newToken, tokenHash, writePolicy } from "../../helpers/policy";
import { describeRoot } from "../../helpers/privileged";
import { mounted, nsInode } from "../../helpers/proc";
import { startTarget } from "../../helpers/targets";
import type { Target } from "../../helpers/targets";

describeRoot("pins belong to the identity that made them", () => {
  const tokens = { alice: newToken(), bob: newToken() };
  let stateDir: string;
  let lxnsd: TestDaemon;
  let target: Target;
  const clients: LxnsdClient[] = [];
  const as = (token: string): LxnsdClient => {
    const client = createClient(lxnsd.address, { token });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), "lxnsd-pin-owners-"));
    const policy = writePolicy({
      identities: [
        { name: "alice", scopes: ["read", "admin"], tokens: [tokenHash(tokens.alice)] },
        { name: "bob", scopes: ["read", "admin"], tokens: [tokenHash(tokens.bob)] },
      ],
    });
    // No `ip netns` twin: nothing of this test lands in /run/netns.
    lxnsd = await startDaemon({ stateDir, netnsDir: "", policyFile: policy });
    target = await startTarget(["unshare", "--uts"]);
  });
  afterAll(async () => {
    clients.forEach((client) => client.disconnect());
    await target?.kill();
    await lxnsd?.stop();
    if (mounted(path.join(stateDir, "ns"))) execFileSync("umount", ["--recursive", "--lazy", path.join(stateDir, "ns")]);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("another identity's Unpin is PERMISSION_DENIED and leaves the pin; the owner's removes it and its owner record", async () => {
    const alice = as(tokens.alice);
    const bob = as(tokens.bob);
    const { path: pinned } = await alice.pin({ ref: { type: NamespaceType.UTS, source: { case: "pid", value: target.pid } }, name: "alices" });
    const owner = path.join(stateDir, "pin-owners", "alices");
    expect(existsSync(owner)).toBe(true);

    expect(await reasonOf(bob.unpin({ name: "alices" }))).toBe("PERMISSION_DENIED PIN_NOT_YOURS");
    expect(mounted(pinned)).toBe(true);
    // Still the target's namespace: nothing was undone.
    expect((await bob.inspect({ ref: { source: { case: "path", value: pinned } } })).info!.nsId).toBe(nsInode(target.pid, "uts"));

    await alice.unpin({ name: "alices" });
    expect(mounted(pinned)).toBe(false);
    expect(existsSync(pinned)).toBe(false);
    expect(existsSync(owner)).toBe(false);
  });

  it("holds across a restart of the daemon", async () => {
    await as(tokens.alice).pin({ ref: { type: NamespaceType.UTS, source: { case: "pid", value: target.pid } }, name: "kept" });
    await lxnsd.stop();
    const policy = writePolicy({
      identities: [
        { name: "alice", scopes: ["read", "admin"], tokens: [tokenHash(tokens.alice)] },
        { name: "bob", scopes: ["read", "admin"], tokens: [tokenHash(tokens.bob)] },
      ],
    });
    lxnsd = await startDaemon({ stateDir, netnsDir: "", policyFile: policy });
    expect(await reasonOf(as(tokens.bob).unpin({ name: "kept" }))).toBe("PERMISSION_DENIED PIN_NOT_YOURS");
    expect(await reasonOf(as(tokens.alice).unpin({ name: "kept" }))).toBe("OK");
  });

  it("a pin with no owner recorded (made by hand, or by an older lxnsd) may be unpinned by any admin", async () => {
    const { path: pinned } = await as(tokens.alice).pin({ ref: { type: NamespaceType.UTS, source: { case: "pid", value: target.pid } }, name: "orphan" });
    unlinkSync(path.join(stateDir, "pin-owners", "orphan"));
    expect(await reasonOf(as(tokens.bob).unpin({ name: "orphan" }))).toBe("OK");
    expect(mounted(pinned)).toBe(false);
  });

  it("a failed Pin leaves no owner record behind", async () => {
    expect(await reasonOf(as(tokens.alice).pin({ ref: { type: NamespaceType.UTS, source: { case: "pid", value: 2 ** 22 + 1 } }, name: "never" }))).toMatch(/^NOT_FOUND/);
    await as(tokens.alice).pin({ ref: { type: NamespaceType.UTS, source: { case: "pid", value: target.pid } }, name: "taken" });
    expect(await reasonOf(as(tokens.bob).pin({ ref: { type: NamespaceType.UTS, source: { case: "pid", value: target.pid } }, name: "taken" }))).toMatch(/^ALREADY_EXISTS/);
    expect(existsSync(path.join(stateDir, "pin-owners", "never"))).toBe(false);
    // Bob's refused Pin did not make the pin his.
    expect(await reasonOf(as(tokens.bob).unpin({ name: "taken" }))).toBe("PERMISSION_DENIED PIN_NOT_YOURS");
    expect(await reasonOf(as(tokens.alice).unpin({ name: "taken" }))).toBe("OK");
  });
});
