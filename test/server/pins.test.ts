import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NamespaceType, status } from "../../client";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { mounted, nsInode } from "../helpers/proc";

describeRoot("Pin and Unpin", () => {
  let stateDir: string;
  let lxnsd: TestDaemon;
  const names: string[] = [];
  const unique = (): string => {
    const name = `lxnsd-test-${process.pid}-${names.length}`;
    names.push(name);
    return name;
  };

  beforeEach(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), "lxnsd-state-"));
    lxnsd = await startDaemon({ stateDir });
  });
  afterEach(async () => {
    await lxnsd.stop();
    for (const name of names.splice(0)) {
      const twin = `/run/netns/${name}`;
      if (existsSync(twin)) {
        execFileSync("umount", ["--lazy", twin], { stdio: "ignore" });
        rmSync(twin, { force: true });
      }
    }
    if (mounted(path.join(stateDir, "ns"))) execFileSync("umount", ["--recursive", "--lazy", path.join(stateDir, "ns")]);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("pins a net namespace that outlives its handle and the daemon, for nsenter and ip netns", async () => {
    const name = unique();
    const { handles } = await lxnsd.client.unshare({ types: [NamespaceType.NET] });
    const nsId = handles[0].info!.nsId;
    const { path: pinned } = await lxnsd.client.pin({ ref: { source: { case: "handle", value: handles[0].id } }, name });
    expect(pinned).toBe(path.join(stateDir, "ns", name));
    await lxnsd.client.close({ handle: handles[0].id });

    expect(execFileSync("nsenter", [`--net=${pinned}`, "ip", "-o", "link"], { encoding: "utf8" })).toMatch(/^1: lo:/);
    expect(execFileSync("nsenter", [`--net=${pinned}`, "readlink", "/proc/self/ns/net"], { encoding: "utf8" }).trim()).toBe(`net:[${nsId}]`);
    expect(execFileSync("ip", ["netns", "list"], { encoding: "utf8" })).toContain(name);
    const { info } = await lxnsd.client.inspect({ ref: { source: { case: "path", value: pinned } } });
    expect(info?.nsId).toBe(nsId);

    // A second daemon on the same state dir finds the pin and can release it.
    await lxnsd.stop();
    lxnsd = await startDaemon({ stateDir });
    expect((await lxnsd.client.inspect({ ref: { source: { case: "path", value: pinned } } })).info?.nsId).toBe(nsId);
    await lxnsd.client.unpin({ name });
    expect(mounted(pinned)).toBe(false);
    expect(existsSync(pinned)).toBe(false);
    expect(existsSync(`/run/netns/${name}`)).toBe(false);
    await expect(lxnsd.client.inspect({ ref: { source: { case: "path", value: pinned } } })).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it("pins other types under the state dir only", async () => {
    const name = unique();
    const { path: pinned } = await lxnsd.client.pin({ ref: { type: NamespaceType.UTS, source: { case: "pid", value: process.pid } }, name });
    expect(mounted(pinned)).toBe(true);
    expect(existsSync(`/run/netns/${name}`)).toBe(false);
    expect((await lxnsd.client.inspect({ ref: { source: { case: "path", value: pinned } } })).info?.nsId).toBe(nsInode("self", "uts"));
    await lxnsd.client.unpin({ name });
    expect(existsSync(pinned)).toBe(false);
  });

  it.each(["", ".", "..", "a/b", "-x", "x".repeat(65), "a\0b", "é"])("refuses the name %j with INVALID_ARGUMENT", async (name) => {
    const ref = { type: NamespaceType.UTS, source: { case: "self" as const, value: true } };
    await expect(lxnsd.client.pin({ ref, name })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(lxnsd.client.unpin({ name })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it("refuses a taken name with ALREADY_EXISTS, an unknown one with NOT_FOUND, a bad ref as Inspect does", async () => {
    const name = unique();
    const ref = { type: NamespaceType.NET, source: { case: "self" as const, value: true } };
    const { path: pinned } = await lxnsd.client.pin({ ref, name });
    await expect(lxnsd.client.pin({ ref, name })).rejects.toMatchObject({ code: status.ALREADY_EXISTS });
    await expect(lxnsd.client.pin({ ref: { type: NamespaceType.UTS, source: { case: "self", value: true } }, name })).rejects.toMatchObject({ code: status.ALREADY_EXISTS });
    expect(mounted(pinned)).toBe(true);
    await lxnsd.client.unpin({ name });
    await expect(lxnsd.client.unpin({ name })).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(lxnsd.client.pin({ ref: { type: NamespaceType.NET, source: { case: "pid", value: 0x7ffffff0 } }, name })).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(lxnsd.client.pin({ ref: { source: { case: "handle", value: "nope" } }, name })).rejects.toMatchObject({ code: status.NOT_FOUND });
    expect(existsSync(pinned)).toBe(false);
  });
});
