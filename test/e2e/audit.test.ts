import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NamespaceType, createClient } from "../../client";
import type { LxnsdClient } from "../../client";
import { spawnDaemon } from "../helpers/daemon-process";
import type { DaemonProcess } from "../helpers/daemon-process";
import { codeOf } from "../helpers/outcome";
import { describeRoot } from "../helpers/privileged";
import { mounted, selfAsPeer } from "../helpers/proc";

type Line = Record<string, unknown> & { audit?: Record<string, unknown> };

/** Waits until the daemon answers (at --log-level fatal it never logs "lxnsd serving"). */
async function serving(client: LxnsdClient, daemon: DaemonProcess): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    if (daemon.proc.exitCode !== null) throw new Error(`lxnsd exited:\n${daemon.stderr()}`);
    if ((await codeOf(client.getCurrentNamespaces({}, { timeoutMs: 500 }))) === "OK") return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("lxnsd did not start serving");
}

const lines = (text: string): Line[] => text.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Line);

describeRoot("the audit stream", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-audit-"));
  });
  afterEach(() => {
    // The daemon made <state dir>/ns a shared mount point for pins.
    const ns = path.join(dir, "state", "ns");
    if (mounted(ns)) execFileSync("umount", ["--recursive", "--lazy", ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts lxnsd with `args`, makes one call of each audited kind, stops it; returns its stderr. */
  async function callEach(args: string[]): Promise<{ stderr: string; handles: string[]; uts: string; pin: string }> {
    const socket = `unix:${path.join(dir, "lxnsd.sock")}`;
    const daemon = spawnDaemon(["--listen", socket, "--state-dir", path.join(dir, "state"), "--netns-dir", "", "--log-level", "fatal", ...args]);
    const client = createClient(socket);
    const pin = `audit-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    try {
      await serving(client, daemon);
      await client.run({ argv: ["/bin/echo", "audit me"] });
      const { handles } = await client.unshare({ types: [NamespaceType.UTS, NamespaceType.IPC] });
      const uts = handles.find((handle) => handle.info!.type === NamespaceType.UTS)!.id;
      await client.pin({ ref: { source: { case: "handle", value: uts } }, name: pin });
      await client.unpin({ name: pin });
      // A source that does not exist: refused before anything is mounted, audited all the same.
      const source = path.join(dir, "no-such-source");
      expect(await codeOf(client.bindMount({ source, target: { source: { case: "handle", value: uts } }, targetPath: "/mnt" }))).not.toBe("OK");
      for (const handle of handles) await client.close({ handle: handle.id });
      client.disconnect();
      expect(await daemon.stop()).toBe(0);
      // Read once it exited: the last lines may still be in the pipe before.
      return { stderr: daemon.stderr(), handles: handles.map((handle) => handle.id), uts, pin };
    } finally {
      client.disconnect();
      await daemon.stop();
    }
  }

  it("--log-level fatal silences the log, not the audit lines, which name the peer and everything each call touches", async () => {
    const { stderr, handles, uts, pin } = await callEach([]);
    const all = lines(stderr);
    expect(all.filter((line) => !line.audit)).toEqual([]);
    const audits = all.map((line) => line.audit!);
    const peer = selfAsPeer();
    const common = { identity: `unix uid ${process.getuid!()}`, peer };
    expect(audits).toEqual([
      { ...common, method: "ProcessService/Run", targets: [], argv: ["/bin/echo", "audit me"], outcome: "OK" },
      { ...common, method: "NamespaceService/Unshare", targets: [], types: ["uts", "ipc"], handles, outcome: "OK" },
      { ...common, method: "NamespaceService/Pin", targets: [`handle=${uts}`], pin, outcome: "OK" },
      { ...common, method: "NamespaceService/Unpin", targets: [], pin, outcome: "OK" },
      expect.objectContaining({ ...common, method: "MountService/BindMount", source: path.join(dir, "no-such-source"), targetPath: "/mnt" }),
      { ...common, method: "NamespaceService/Close", targets: [], handles: [handles[0]], outcome: "OK" },
      { ...common, method: "NamespaceService/Close", targets: [], handles: [handles[1]], outcome: "OK" },
    ]);
    expect(all.every((line) => typeof line.call === "string" && line.service === "lxnsd")).toBe(true);
  });

  it("a call refused at its headers (a token naming nobody) is on the audit stream too, with its peer, whatever --log-level says", async () => {
    const socket = `unix:${path.join(dir, "lxnsd.sock")}`;
    const policy = path.join(dir, "policy.json");
    writeFileSync(policy, JSON.stringify({ identities: [{ name: "reader", scopes: ["read"], tokens: [`sha256:${"0".repeat(64)}`] }] }));
    const daemon = spawnDaemon(["--listen", socket, "--state-dir", path.join(dir, "state"), "--netns-dir", "", "--log-level", "fatal", "--policy", policy]);
    const owner = createClient(socket);
    const stranger = createClient(socket, { token: "names-nobody" });
    try {
      await serving(owner, daemon);
      expect(await codeOf(stranger.unshare({ types: [NamespaceType.UTS] }))).toBe("UNAUTHENTICATED");
      owner.disconnect();
      stranger.disconnect();
      expect(await daemon.stop()).toBe(0);
      const all = lines(daemon.stderr());
      expect(all.filter((line) => !line.audit)).toEqual([]);
      expect(all.map((line) => line.audit)).toEqual([
        {
          identity: expect.stringMatching(/^unauthenticated unix:pid=\d+,uid=0,/),
          peer: { pid: process.pid, uid: process.getuid!(), gid: process.getgid!(), groups: expect.any(Array) },
          method: "NamespaceService/Unshare",
          targets: [],
          outcome: "UNAUTHENTICATED",
        },
      ]);
      expect(all.every((line) => typeof line.call === "string" && line.service === "lxnsd")).toBe(true);
    } finally {
      owner.disconnect();
      stranger.disconnect();
      await daemon.stop();
    }
  });

  it("--audit-log FILE appends them to a file of mode 0600; --audit-log off writes none", async () => {
    const file = path.join(dir, "audit.log");
    const { stderr } = await callEach(["--audit-log", file]);
    expect(lines(stderr)).toEqual([]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(lines(readFileSync(file, "utf8")).map((line) => line.audit!.method)).toEqual([
      "ProcessService/Run",
      "NamespaceService/Unshare",
      "NamespaceService/Pin",
      "NamespaceService/Unpin",
      "MountService/BindMount",
      "NamespaceService/Close",
      "NamespaceService/Close",
    ]);
    rmSync(file);
    const off = await callEach(["--audit-log", "off"]);
    expect(lines(off.stderr)).toEqual([]);
    expect(existsSync(file)).toBe(false);
  });

  it("--audit-log that is neither stderr, off nor an absolute path exits 2", async () => {
    const daemon = spawnDaemon(["--listen", `unix:${path.join(dir, "x.sock")}`, "--audit-log", "audit.log"]);
    expect(await daemon.exited).toBe(2);
    expect(daemon.stderr()).toContain("--audit-log must be stderr, off or an absolute file path");
  });
});
