import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NamespaceType, createClient, status } from "../../client";
import { spawnDaemon, DAEMON_MAIN } from "../helpers/daemon-process";
import { describeRoot } from "../helpers/privileged";
import { startTarget } from "../helpers/targets";

describeRoot("the lxnsd process", () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-e2e-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("--help documents every flag", () => {
    const help = execFileSync(process.execPath, [DAEMON_MAIN, "--help"], { encoding: "utf8" });
    for (const flag of ["--config", "--listen", "--max-handles", "--handle-lease", "--max-handle-lease", "--ns-path-root", "--state-dir", "--netns-dir", "--child-timeout", "--shutdown-grace", "--metrics-listen", "--log-level", "--help",
      "--socket-group", "--tls-cert", "--tls-key", "--tls-client-ca", "--insecure-loopback", "--policy", "--max-children", "--max-queue",
      "--max-handles-per-identity", "--max-message-bytes", "--max-streams-per-connection", "--keepalive-time", "--keepalive-timeout", "--max-connection-idle", "--mount-source-root"]) {
      expect(help).toContain(flag);
    }
    for (const env of ["LXNSD_CONFIG", "LXNSD_LISTEN", "LXNSD_MAX_HANDLES", "LXNSD_SHUTDOWN_GRACE", "LXNSD_METRICS_LISTEN", "LXNSD_LOG_LEVEL"]) {
      expect(help).toMatch(new RegExp(`env:\\s+${env}\\b`));
    }
    expect(help).toMatch(/Precedence: flag > environment > config file > default/);
  });

  it("serves on a unix socket (mode 0660) in a directory it creates, and exits 0 on SIGTERM, removing the socket", async () => {
    const socket = path.join(dir, "nested", "lxnsd.sock");
    const daemon = spawnDaemon(["--listen", `unix:${socket}`]);
    expect(await daemon.ready).toEqual([`unix:${socket}`]);
    expect(statSync(socket).mode & 0o777).toBe(0o660);
    const client = createClient(`unix:${socket}`);
    try {
      expect((await client.getCurrentNamespaces()).namespaces).toHaveLength(8);
    } finally {
      client.disconnect();
    }
    expect(await daemon.stop()).toBe(0);
    expect(existsSync(socket)).toBe(false);
  });

  it("listens by default on /run/lxnsd/lxnsd.sock as root", async () => {
    const daemon = spawnDaemon([]);
    expect(await daemon.ready).toEqual(["unix:/run/lxnsd/lxnsd.sock"]);
    expect(statSync("/run/lxnsd/lxnsd.sock").isSocket()).toBe(true);
    expect(await daemon.stop()).toBe(0);
  });

  it("listens by default on $XDG_RUNTIME_DIR/lxnsd.sock as another user", async () => {
    chmodSync(dir, 0o777);
    const daemon = spawnDaemon([], { user: 65534, env: { ...process.env, XDG_RUNTIME_DIR: dir } });
    expect(await daemon.ready).toEqual([`unix:${path.join(dir, "lxnsd.sock")}`]);
    expect(await daemon.stop()).toBe(0);
  });

  it("replaces a stale socket and refuses a live one", async () => {
    const socket = path.join(dir, "lxnsd.sock");
    const first = spawnDaemon(["--listen", `unix:${socket}`]);
    await first.ready;
    const second = spawnDaemon(["--listen", `unix:${socket}`]);
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toMatch(/already listening on/);
    first.proc.kill("SIGKILL");
    await first.exited;
    expect(existsSync(socket)).toBe(true);
    const third = spawnDaemon(["--listen", `unix:${socket}`]);
    await third.ready;
    expect(await third.stop()).toBe(0);
  });

  it("listens on several addresses, plaintext TCP only on loopback and only with --insecure-loopback", async () => {
    const refused = spawnDaemon(["--listen", "0.0.0.0:0", "--insecure-loopback"]);
    expect(await refused.exited).toBe(1);
    expect(refused.stderr()).toMatch(/refusing plaintext TCP listener 0\.0\.0\.0:0: TCP needs --tls-cert/);
    const unflagged = spawnDaemon(["--listen", "127.0.0.1:0"]);
    expect(await unflagged.exited).toBe(1);
    expect(unflagged.stderr()).toMatch(/refusing plaintext TCP listener 127\.0\.0\.1:0: .*--insecure-loopback/);
    const socket = path.join(dir, "lxnsd.sock");
    const daemon = spawnDaemon(["--listen", `unix:${socket}`, "--listen", "127.0.0.1:0", "--insecure-loopback"]);
    const [, tcp] = await daemon.ready;
    expect(tcp).toMatch(/^127\.0\.0\.1:\d+$/);
    const client = createClient(tcp);
    try {
      expect((await client.getLimit({ type: NamespaceType.NET })).value).toBeGreaterThan(0n);
    } finally {
      client.disconnect();
    }
    expect(await daemon.stop()).toBe(0);
  });

  it("without privileges answers PERMISSION_DENIED and keeps serving", async () => {
    chmodSync(dir, 0o777);
    const socket = path.join(dir, "lxnsd.sock");
    const target = await startTarget(["unshare", "--net"]);
    const daemon = spawnDaemon(["--listen", `unix:${socket}`], { user: 65534 });
    const client = createClient(`unix:${socket}`);
    try {
      await daemon.ready;
      await expect(client.inspect({ ref: { type: NamespaceType.NET, source: { case: "pid", value: target.pid } } })).rejects.toMatchObject({
        code: status.PERMISSION_DENIED,
        errno: "EACCES",
      });
      await expect(client.unshare({ types: [NamespaceType.NET] })).rejects.toMatchObject({ code: status.PERMISSION_DENIED, errno: "EPERM", step: "unshare" });
      // An unprivileged user may still make a user namespace, and others inside it.
      const { handles } = await client.unshare({ types: [NamespaceType.USER, NamespaceType.NET], options: { mapRoot: true } });
      expect(handles).toHaveLength(2);
      for (const handle of handles) await client.close({ handle: handle.id });
      expect((await client.getCurrentNamespaces()).namespaces).toHaveLength(8);
    } finally {
      client.disconnect();
      await target.kill();
    }
    expect(await daemon.stop()).toBe(0);
  });

  it("out of fds answers RESOURCE_EXHAUSTED and recovers", async () => {
    const socket = path.join(dir, "lxnsd.sock");
    const daemon = spawnDaemon(["--listen", `unix:${socket}`], { wrapper: ["prlimit", "--nofile=60"] });
    await daemon.ready;
    const client = createClient(`unix:${socket}`);
    const ids: string[] = [];
    try {
      let exhausted: unknown;
      for (let i = 0; i < 80 && !exhausted; i++) {
        try {
          ids.push((await client.open({ ref: { type: NamespaceType.UTS, source: { case: "self", value: true } } })).handle!.id);
        } catch (err) {
          exhausted = err;
        }
      }
      expect(exhausted).toMatchObject({ code: status.RESOURCE_EXHAUSTED, errno: "EMFILE" });
      for (const id of ids.splice(0)) await client.close({ handle: id });
      const { handle } = await client.open({ ref: { type: NamespaceType.UTS, source: { case: "self", value: true } } });
      await client.close({ handle: handle!.id });
    } finally {
      client.disconnect();
    }
    expect(await daemon.stop()).toBe(0);
  });
});
