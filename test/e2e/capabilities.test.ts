import { chownSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NamespaceType, createClient } from "../../client";
import type { LxnsdClient } from "../../client";
import { spawnDaemon } from "../helpers/daemon-process";
import type { DaemonProcess } from "../helpers/daemon-process";
import { describeRoot } from "../helpers/privileged";
import { statusField } from "../helpers/proc";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";

/** The CapabilityBoundingSet of deploy/systemd/lxnsd.service (the Kubernetes manifests list the same; deploy.test.ts checks that). */
function deployedCapabilities(): string[] {
  const unit = readFileSync(path.join(__dirname, "..", "..", "deploy", "systemd", "lxnsd.service"), "utf8");
  return unit.match(/^CapabilityBoundingSet=(.*)$/m)![1].split(/\s+/);
}

interface Fixture {
  client: LxnsdClient;
  mountTarget: Target;
  nobodyTarget: Target;
  privateDir: string;
}

async function closeAll(client: LxnsdClient, handles: { id: string }[]): Promise<void> {
  for (const handle of handles) await client.close({ handle: handle.id });
}

/** For each capability the deploy files grant, one request that needs it. */
const NEEDS: Record<string, (f: Fixture) => Promise<unknown>> = {
  CAP_SYS_ADMIN: async ({ client }) => closeAll(client, (await client.unshare({ types: [NamespaceType.UTS] })).handles),
  CAP_SYS_CHROOT: async ({ client, mountTarget }) => client.run({ argv: ["true"], join: [{ type: NamespaceType.MNT, source: { case: "pid", value: mountTarget.pid } }] }),
  CAP_SYS_PTRACE: async ({ client, nobodyTarget }) => client.inspect({ ref: { type: NamespaceType.NET, source: { case: "pid", value: nobodyTarget.pid } } }),
  CAP_SETUID: async ({ client }) => expect((await client.run({ argv: ["id", "-u"], uid: 65534, gid: 65534 })).stdout.toString()).toBe("65534\n"),
  CAP_SETGID: async ({ client }) => expect((await client.run({ argv: ["id", "-g"], uid: 65534, gid: 65534 })).stdout.toString()).toBe("65534\n"),
  CAP_SETFCAP: async ({ client }) => closeAll(client, (await client.unshare({ types: [NamespaceType.USER], options: { mapRoot: true } })).handles),
  CAP_KILL: async ({ client }) => {
    const session = client.exec({ argv: ["sleep", "100"], uid: 65534, gid: 65534 });
    await session.started;
    session.signal(15);
    expect(await session.wait()).toEqual({ signal: 15 });
  },
  CAP_DAC_OVERRIDE: async ({ client, privateDir }) => client.run({ argv: ["true"], cwd: privateDir }),
  CAP_NET_ADMIN: async ({ client }) => closeAll(client, (await client.unshare({ types: [NamespaceType.NET], options: { loopbackUp: true } })).handles),
  CAP_SYS_RESOURCE: async ({ client }) => {
    const { value } = await client.getLimit({ type: NamespaceType.UTS });
    await client.setLimit({ type: NamespaceType.UTS, value }); // the value it already has: the host sees no change
  },
  CAP_SYS_TIME: async ({ client }) => closeAll(client, (await client.unshare({ types: [NamespaceType.TIME], options: { monotonicOffset: { seconds: 5n } } })).handles),
};
/** Where each request fails without its capability (the daemon names the syscall and step). */
const FAILS_AT: Record<string, string> = {
  CAP_SYS_ADMIN: 'unshare: EPERM at step "unshare"',
  CAP_SYS_CHROOT: 'setns: EPERM at step "setns mnt"',
  CAP_SYS_PTRACE: "open: EACCES",
  CAP_SETUID: 'setuid: EPERM at step "set credentials"',
  CAP_SETGID: 'setgroups: EPERM at step "set credentials"',
  CAP_SETFCAP: 'write(uid_map): EPERM at step "write uid_map"',
  CAP_DAC_OVERRIDE: 'chdir: EACCES at step "chdir"',
  CAP_NET_ADMIN: 'ioctl(SIOCSIFFLAGS): EPERM at step "loopback up"',
  CAP_SYS_RESOURCE: "max_uts_namespaces: open: EACCES",
  CAP_SYS_TIME: 'EPERM at step "write timens_offsets"',
};
/** Granted for what is not exercised here: the socket's group (--socket-group). */
const NOT_EXERCISED = new Set(["CAP_CHOWN"]);
/** Needed, but a daemon without it cannot stop what it started (the program outlives the test): not tried without. */
const NOT_TRIED_WITHOUT = new Set(["CAP_KILL"]);

/** Bit numbers of the capabilities above (linux/capability.h). */
const CAP_BITS: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_NET_ADMIN: 12,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SETFCAP: 31,
};

/** The `Cap*:` mask of /proc/PID/status as a number. */
function capMask(pid: number | "self", field: "CapBnd" | "CapEff" | "CapPrm"): bigint {
  return BigInt("0x" + statusField(pid === "self" ? process.pid : pid, field));
}

/** The mask of a list of capability names. */
function maskOf(caps: string[]): bigint {
  return caps.reduce((mask, cap) => mask | (1n << BigInt(CAP_BITS[cap])), 0n);
}

/**
 * Capabilities the deploy files grant that this machine's own bounding set lacks (some sandboxes bound
 * CAP_SYS_RESOURCE away). No process here can have them, so for these the tests show the other side: a daemon
 * given the deployed set gets them not, and their request fails exactly as it does without them.
 */
const MACHINE_LACKS = new Set(Object.keys(CAP_BITS).filter((cap) => (capMask("self", "CapBnd") & (1n << BigInt(CAP_BITS[cap]))) === 0n));

describeRoot("the capabilities deploy/ grants", () => {
  let dir: string;
  let mountTarget: Target;
  let nobodyTarget: Target;
  let privateDir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-caps-"));
    privateDir = mkdtempSync(path.join(tmpdir(), "lxnsd-private-"));
    chownSync(privateDir, 65534, 65534); // mode 0700: only its owner, or DAC_OVERRIDE, may enter
    mountTarget = await startTarget(["unshare", "--mount"]);
    nobodyTarget = await startTarget(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]);
  });
  afterAll(async () => {
    await mountTarget.kill();
    await nobodyTarget.kill();
    rmSync(dir, { recursive: true, force: true });
    rmSync(privateDir, { recursive: true, force: true });
  });

  /** lxnsd as root with only `caps` in its bounding set (so at most those, as under the unit or the pod). */
  async function withDaemon(caps: string[], body: (f: Fixture, daemonPid: number) => Promise<void>): Promise<void> {
    const socket = `unix:${path.join(dir, "lxnsd.sock")}`;
    const bounding = ["-all", ...caps.map((cap) => `+${cap.replace(/^CAP_/, "").toLowerCase()}`)].join(",");
    const daemon: DaemonProcess = spawnDaemon(["--listen", socket, "--state-dir", dir, "--netns-dir", ""], { wrapper: ["setpriv", `--bounding-set=${bounding}`, "--inh-caps=-all"] });
    await daemon.ready;
    const client = createClient(socket);
    try {
      await body({ client, mountTarget, nobodyTarget, privateDir }, daemon.proc.pid!);
    } finally {
      client.disconnect();
      expect(await daemon.stop()).toBe(0);
    }
  }

  it("every granted capability is accounted for", () => {
    expect(deployedCapabilities().sort()).toEqual([...Object.keys(NEEDS), ...NOT_EXERCISED].sort());
  });

  it("with exactly these, every request above succeeds (one the machine itself lacks fails as without it)", async () => {
    await withDaemon(deployedCapabilities(), async (fixture) => {
      for (const [cap, need] of Object.entries(NEEDS)) {
        if (MACHINE_LACKS.has(cap)) {
          console.warn(`${cap} is not in this machine's bounding set: checked that its request fails as without it, not that it succeeds`);
          await expect(need(fixture)).rejects.toMatchObject({ codeName: "PERMISSION_DENIED", message: expect.stringContaining(FAILS_AT[cap]) });
        } else {
          await need(fixture);
        }
      }
    });
  });

  it("a program gets at most the daemon's capabilities: its bounding, permitted and effective sets are the daemon's", async () => {
    const deployed = deployedCapabilities();
    await withDaemon(deployed, async ({ client }, daemonPid) => {
      const granted = maskOf(deployed) & capMask("self", "CapBnd");
      expect(capMask(daemonPid, "CapBnd")).toBe(granted);
      const result = await client.run({ argv: ["grep", "-E", "^Cap(Bnd|Prm|Eff):", "/proc/self/status"] });
      const program = Object.fromEntries(result.stdout.toString().trim().split("\n").map((line) => line.split(/:\s+/)).map(([name, hex]) => [name, BigInt("0x" + hex)]));
      expect(program).toEqual({ CapBnd: granted, CapPrm: granted, CapEff: granted });
      // Not the jest process's (full root here): the daemon's set really bounds what it hands out.
      expect(granted).not.toBe(capMask("self", "CapBnd"));
    });
  });

  // Without a capability the machine lacks anyway, its request fails too: tried like the others.
  const tried = Object.keys(NEEDS).filter((cap) => !NOT_TRIED_WITHOUT.has(cap));
  it.each(tried)("without %s, its request fails and the daemon keeps serving", async (cap) => {
    await withDaemon(deployedCapabilities().filter((c) => c !== cap), async (fixture) => {
      await expect(NEEDS[cap](fixture)).rejects.toMatchObject({ codeName: "PERMISSION_DENIED", message: expect.stringContaining(FAILS_AT[cap]) });
      expect((await fixture.client.getCurrentNamespaces()).namespaces).toHaveLength(8);
    });
  });
});
