import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NamespaceType, Relation, createClient } from "../../../client";
import type { LxnsdClient } from "../../../client";
import { makeCgroup } from "../../helpers/cgroup";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { reasonOf } from "../../helpers/outcome";
import { newToken, tokenHash, writePolicy } from "../../helpers/policy";
import { describeRoot } from "../../helpers/privileged";
import { childrenOf, mounted, nsInode } from "../../helpers/proc";
import { startTarget } from "../../helpers/targets";
import type { Target } from "../../helpers/targets";

// Every reference a restricted identity makes is checked, at any depth: OWNER and PARENT
// answers, pins named by path, BindMount targets and sources. And no path a caller names
// can make the daemon open a file that is not a namespace, or block.

const tokens = { pods: newToken(), podsMount: newToken(), userns: newToken() };
const pidRef = (type: NamespaceType, pid: number, relation = Relation.UNSPECIFIED) => ({ type, relation, source: { case: "pid" as const, value: pid } });
const pathRef = (value: string, relation = Relation.UNSPECIFIED) => ({ relation, source: { case: "path" as const, value } });

describeRoot("references of a restricted identity", () => {
  let daemon: TestDaemon;
  let cgroup: ReturnType<typeof makeCgroup>;
  let pod: Target;
  let container: Target;
  let scratch: string;
  let stateDir: string;
  let netnsDir: string;
  let pods: LxnsdClient;
  let podsMount: LxnsdClient;
  let userns: LxnsdClient;
  const suffix = `${process.pid}-${Date.now() % 100000}`;

  beforeAll(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), "lxnsd-refs-"));
    stateDir = path.join(scratch, "state");
    netnsDir = path.join(scratch, "netns");
    mkdirSync(netnsDir);
    mkdirSync(path.join(scratch, "sources", "allowed"), { recursive: true });
    mkdirSync(path.join(scratch, "sources", "other"), { recursive: true });
    mkdirSync(path.join(scratch, "dest"));
    cgroup = makeCgroup(`lxnsd-refs-${suffix}`);
    // A pod in the host's user namespace with a pid namespace of its own, and a container with a user namespace too.
    pod = await startTarget(["unshare", "--pid", "--fork", "--net", "--uts", "--ipc", "--mount", "--propagation", "private"]);
    container = await startTarget(["unshare", "--user", "--map-root-user", "--pid", "--fork", "--net", "--mount"]);
    cgroup.add(pod.pid);
    cgroup.add(container.pid);
    const policy = writePolicy({
      identities: [
        { name: "pods", scopes: ["read", "exec", "admin"], tokens: [tokenHash(tokens.pods)], targets: { "cgroup-prefixes": [cgroup.path] } },
        {
          name: "pods-mount",
          scopes: ["read", "admin"],
          tokens: [tokenHash(tokens.podsMount)],
          targets: { "cgroup-prefixes": [cgroup.path] },
          "mount-sources": [path.join(scratch, "sources", "allowed")],
        },
        { name: "userns", scopes: ["read", "admin"], tokens: [tokenHash(tokens.userns)], targets: { "user-namespaces": [`/proc/${container.pid}/ns/user`] } },
      ],
    });
    daemon = await startDaemon({ policyFile: policy, stateDir, netnsDir });
    pods = createClient(daemon.address, { token: tokens.pods });
    podsMount = createClient(daemon.address, { token: tokens.podsMount });
    userns = createClient(daemon.address, { token: tokens.userns });
  });

  afterAll(async () => {
    for (const client of [pods, podsMount, userns]) client?.disconnect();
    await Promise.all([pod, container].map((target) => target?.kill()));
    await daemon?.stop();
    for (const dir of [path.join(stateDir ?? "/nonexistent", "ns"), netnsDir]) {
      if (dir && mounted(dir)) execFileSync("umount", ["--recursive", "--lazy", dir]);
    }
    cgroup?.remove();
    rmSync(scratch, { recursive: true, force: true });
  });

  describe("OWNER and PARENT", () => {
    it("a cgroup rule: PARENT of an allowed target's pid namespace (the host's) is refused", async () => {
      expect(await reasonOf(pods.inspect({ ref: pidRef(NamespaceType.PID, pod.pid, Relation.PARENT) }))).toBe("PERMISSION_DENIED TARGET_FORBIDDEN");
      expect(await reasonOf(pods.open({ ref: pidRef(NamespaceType.PID, pod.pid, Relation.PARENT) }))).toBe("PERMISSION_DENIED TARGET_FORBIDDEN");
      expect(await reasonOf(pods.inspect({ ref: pathRef(`/proc/${pod.pid}/ns/pid`, Relation.PARENT) }))).toBe("PERMISSION_DENIED TARGET_FORBIDDEN");
      // The unrestricted caller still gets it.
      expect((await daemon.client.inspect({ ref: pidRef(NamespaceType.PID, pod.pid, Relation.PARENT) })).info!.nsId).toBe(nsInode("self", "pid"));
    });

    it("a cgroup rule: OWNER is allowed only when it is the target's own user namespace", async () => {
      // The pod lives in the host's user namespace: its owner is its own.
      expect((await pods.inspect({ ref: pidRef(NamespaceType.NET, pod.pid, Relation.OWNER) })).info!.nsId).toBe(nsInode(pod.pid, "user"));
      expect((await pods.inspect({ ref: pidRef(NamespaceType.NET, container.pid, Relation.OWNER) })).info!.nsId).toBe(nsInode(container.pid, "user"));
      // The container's user namespace's owner and parent are the host's, not the container's.
      expect(await reasonOf(pods.inspect({ ref: pidRef(NamespaceType.USER, container.pid, Relation.OWNER) }))).toBe("PERMISSION_DENIED TARGET_FORBIDDEN");
      expect(await reasonOf(pods.inspect({ ref: pidRef(NamespaceType.USER, container.pid, Relation.PARENT) }))).toBe("PERMISSION_DENIED TARGET_FORBIDDEN");
      expect(await reasonOf(pods.inspect({ ref: pidRef(NamespaceType.PID, container.pid, Relation.OWNER) }))).toBe("OK");
    });

    it("a user-namespace rule: PARENT of an allowed pid namespace is refused", async () => {
      expect((await userns.inspect({ ref: pidRef(NamespaceType.PID, container.pid) })).info!.nsId).toBe(nsInode(container.pid, "pid"));
      expect(await reasonOf(userns.inspect({ ref: pidRef(NamespaceType.PID, container.pid, Relation.PARENT) }))).toBe("PERMISSION_DENIED TARGET_FORBIDDEN");
      expect(await reasonOf(userns.inspect({ ref: pidRef(NamespaceType.USER, container.pid, Relation.PARENT) }))).toBe("PERMISSION_DENIED TARGET_FORBIDDEN");
    });

    it("a handle's owner and parent are checked like any other reference", async () => {
      const { handle } = await pods.open({ ref: pidRef(NamespaceType.PID, pod.pid) });
      try {
        const via = (relation: Relation) => pods.inspect({ ref: { relation, source: { case: "handle", value: handle!.id } } });
        expect(await reasonOf(via(Relation.UNSPECIFIED))).toBe("OK");
        expect(await reasonOf(via(Relation.PARENT))).toBe("PERMISSION_DENIED TARGET_FORBIDDEN");
      } finally {
        await pods.close({ handle: handle!.id });
      }
    });
  });

  describe("pins", () => {
    it("a restricted identity cannot pin the host's pid namespace, and nothing is left behind", async () => {
      const name = `lxnsd-refs-host-pid-${suffix}`;
      expect(await reasonOf(pods.pin({ ref: pidRef(NamespaceType.PID, pod.pid, Relation.PARENT), name }))).toBe("PERMISSION_DENIED TARGET_FORBIDDEN");
      expect(await reasonOf(userns.pin({ ref: pidRef(NamespaceType.PID, container.pid, Relation.PARENT), name }))).toBe("PERMISSION_DENIED TARGET_FORBIDDEN");
      expect(existsSync(path.join(stateDir, "ns", name))).toBe(false);
    });

    it("a pin named by path is checked: refused to a cgroup rule (no process to check), owner-checked for a user-namespace rule", async () => {
      const host = `lxnsd-refs-host-net-${suffix}`;
      const inside = `lxnsd-refs-container-net-${suffix}`;
      await daemon.client.pin({ ref: pidRef(NamespaceType.NET, process.pid), name: host });
      await daemon.client.pin({ ref: pidRef(NamespaceType.NET, container.pid), name: inside });
      try {
        for (const dir of [path.join(stateDir, "ns"), netnsDir]) {
          expect(await reasonOf(pods.inspect({ ref: pathRef(path.join(dir, host)) }))).toBe("PERMISSION_DENIED TARGET_FORBIDDEN");
          expect(await reasonOf(userns.inspect({ ref: pathRef(path.join(dir, host)) }))).toBe("PERMISSION_DENIED TARGET_FORBIDDEN");
          expect((await userns.inspect({ ref: pathRef(path.join(dir, inside)) })).info!.nsId).toBe(nsInode(container.pid, "net"));
          expect(await reasonOf(userns.inspect({ ref: pathRef(path.join(dir, inside), Relation.OWNER) }))).toBe("OK");
        }
      } finally {
        await daemon.client.unpin({ name: host });
        await daemon.client.unpin({ name: inside });
      }
    });
  });

  describe("BindMount", () => {
    const source = (which: string) => path.join(scratch, "sources", which);
    const request = (src: string, pid: number) => ({ source: src, target: pidRef(NamespaceType.MNT, pid), targetPath: path.join(scratch, "dest") });
    const mountedIn = (pid: number) => execFileSync("nsenter", ["-t", String(pid), "-m", "cat", "/proc/self/mountinfo"], { encoding: "utf8" }).includes(` ${path.join(scratch, "dest")} `);

    it("a restricted identity without mount-sources can mount nothing", async () => {
      expect(await reasonOf(pods.bindMount(request(source("allowed"), pod.pid)))).toBe("PERMISSION_DENIED TARGET_FORBIDDEN");
      expect(mountedIn(pod.pid)).toBe(false);
    });

    it("with mount-sources, only sources beneath them", async () => {
      expect(await reasonOf(podsMount.bindMount(request(source("other"), pod.pid)))).toBe("PERMISSION_DENIED TARGET_FORBIDDEN");
      expect(await reasonOf(podsMount.bindMount(request(`${source("allowed")}-not`, pod.pid)))).toBe("PERMISSION_DENIED TARGET_FORBIDDEN");
      symlinkSync("../other", path.join(source("allowed"), "escape"));
      expect(await reasonOf(podsMount.bindMount(request(path.join(source("allowed"), "escape"), pod.pid)))).toBe("PERMISSION_DENIED TARGET_FORBIDDEN");
      expect(mountedIn(pod.pid)).toBe(false);
      expect(await reasonOf(podsMount.bindMount(request(source("allowed"), pod.pid)))).toBe("OK");
      expect(mountedIn(pod.pid)).toBe(true);
    });

    it("the target process is checked: outside the rule is refused", async () => {
      expect(await reasonOf(podsMount.bindMount(request(source("allowed"), process.pid)))).toBe("PERMISSION_DENIED TARGET_FORBIDDEN");
    });
  });

  describe("NamespaceRef.path", () => {
    it("anything but /proc/PID/ns/TYPE and pins is INVALID_ARGUMENT, without telling whether the file exists", async () => {
      const secret = path.join(scratch, "secret");
      writeFileSync(secret, "x");
      const answers = await Promise.all(
        [`/proc/self/root${secret}`, `/proc/self/root${secret}-missing`, `/proc/${pod.pid}/root/etc/passwd`, "/proc/self/cwd", "/run/lxnsd-nothing/x"].map(
          (value) => daemon.client.inspect({ ref: pathRef(value) }).then(() => "OK", (err: { codeName: string; message: string }) => `${err.codeName}: ${err.message.replace(/\/proc\S*|\/run\S*/g, "P")}`),
        ),
      );
      expect(new Set(answers).size).toBe(1);
      expect(answers[0]).toMatch(/^INVALID_ARGUMENT: /);
    });

    it("a pin directory entry that is not a namespace (a symlink, a FIFO, a file) is INVALID_ARGUMENT: not a namespace file", async () => {
      symlinkSync("/proc/self/ns/net", path.join(netnsDir, `link-${suffix}`));
      execFileSync("mkfifo", [path.join(netnsDir, `fifo-${suffix}`)]);
      writeFileSync(path.join(netnsDir, `file-${suffix}`), "");
      for (const name of [`link-${suffix}`, `fifo-${suffix}`, `file-${suffix}`]) {
        const answer = daemon.client.inspect({ ref: pathRef(path.join(netnsDir, name)) });
        await expect(answer).rejects.toMatchObject({ codeName: "INVALID_ARGUMENT", message: expect.stringMatching(/not a namespace file/) });
      }
    });

    it("a FIFO under /proc/PID/root is refused at once, and other callers are served meanwhile", async () => {
      const fifo = path.join(scratch, `fifo-${suffix}`);
      execFileSync("mkfifo", [fifo]);
      // A writer after 1.5 s, so that a blocking open on the event loop would end (and show in the times).
      const writer = spawn("sh", ["-c", `sleep 1.5; echo x > ${fifo}`], { stdio: "ignore" });
      try {
        const started = Date.now();
        const refused = daemon.client.inspect({ ref: pathRef(`/proc/${pod.pid}/root${fifo}`) }).then(
          () => "OK",
          (err: { codeName: string }) => err.codeName,
        );
        const other = createClient(daemon.address);
        try {
          const served = other.inspect({ ref: pidRef(NamespaceType.NET, pod.pid) }).then(() => Date.now() - started);
          expect(await refused).toBe("INVALID_ARGUMENT");
          expect(Date.now() - started).toBeLessThan(1000);
          expect(await served).toBeLessThan(1000);
        } finally {
          other.disconnect();
        }
      } finally {
        writer.kill("SIGKILL");
        try {
          // unblock a daemon still stuck in open()
          execFileSync("sh", ["-c", `timeout 0.3 sh -c 'echo x > ${fifo}' || true`]);
        } catch {
          // nothing was waiting
        }
      }
    });

    it("refused calls start no process and mount nothing", async () => {
      const before = new Set(childrenOf(process.pid).map((child) => child.pid));
      const mounts = readFileSync(`/proc/${pod.pid}/mountinfo`, "utf8");
      const spawned: number[] = [];
      const watch = setInterval(() => spawned.push(...childrenOf(process.pid).map((child) => child.pid).filter((pid) => !before.has(pid))), 1);
      try {
        expect(await reasonOf(pods.run({ join: [pidRef(NamespaceType.PID, pod.pid, Relation.PARENT)], argv: ["true"] }))).toBe("PERMISSION_DENIED TARGET_FORBIDDEN");
        expect(await reasonOf(pods.bindMount(request2(scratch, pod.pid)))).toBe("PERMISSION_DENIED TARGET_FORBIDDEN");
        expect(await reasonOf(pods.open({ ref: pathRef(`/proc/${pod.pid}/root/etc/passwd`) }))).toBe("INVALID_ARGUMENT INVALID_ARGUMENT");
      } finally {
        clearInterval(watch);
      }
      expect(spawned).toEqual([]);
      expect(childrenOf(process.pid).filter((child) => !before.has(child.pid))).toEqual([]);
      expect(readFileSync(`/proc/${pod.pid}/mountinfo`, "utf8")).toBe(mounts);
    });
  });
});

function request2(scratch: string, pid: number) {
  return { source: path.join(scratch, "sources", "allowed"), target: pidRef(NamespaceType.MNT, pid), targetPath: path.join(scratch, "dest") };
}
