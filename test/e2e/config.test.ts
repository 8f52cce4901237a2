import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NamespaceType, createClient, status } from "../../client";
import { spawnDaemon } from "../helpers/daemon-process";
import { describeRoot } from "../helpers/privileged";

describeRoot("lxnsd configuration from flags, env and --config", () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-config-e2e-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function configFile(name: string, text: string): string {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  }

  /** How many handles the daemon at `address` lets one open before RESOURCE_EXHAUSTED (up to 5). */
  async function handleCap(address: string): Promise<number> {
    const client = createClient(address);
    const ids: string[] = [];
    try {
      for (;;) {
        if (ids.length === 5) return 5;
        try {
          ids.push((await client.open({ ref: { type: NamespaceType.NET, source: { case: "self", value: true } } })).handle!.id);
        } catch (err) {
          expect(err).toMatchObject({ code: status.RESOURCE_EXHAUSTED });
          return ids.length;
        }
      }
    } finally {
      for (const handle of ids) await client.close({ handle });
      client.disconnect();
    }
  }

  it("takes listen from the file, max-handles from env over the file, and a flag over both", async () => {
    const socket = `unix:${path.join(dir, "from-file.sock")}`;
    const file = configFile("lxnsd.yaml", `listen: [${socket}]\nmax-handles: 1\nshutdown-grace: 0.5\n`);
    const env = { ...process.env, LXNSD_CONFIG: file, LXNSD_MAX_HANDLES: "2" };

    const envWins = spawnDaemon([], { env });
    expect(await envWins.ready).toEqual([socket]);
    expect(await handleCap(socket)).toBe(2);
    expect(await envWins.stop()).toBe(0);

    const flagWins = spawnDaemon(["--max-handles", "3"], { env });
    expect(await flagWins.ready).toEqual([socket]);
    expect(await handleCap(socket)).toBe(3);
    expect(await flagWins.stop()).toBe(0);
  });

  it("exits 2 naming the key and the file for an unknown key or a bad value, and the variable for a bad env value", async () => {
    const unknown = configFile("unknown.json", '{"max-handle": 3}');
    const a = spawnDaemon(["--config", unknown]);
    expect(await a.exited).toBe(2);
    expect(a.stderr()).toContain(`lxnsd: ${unknown}: unknown key "max-handle" (the keys are the long flag names: listen, socket-group,`);

    const wrong = configFile("wrong.yaml", "shutdown-grace: soon\n");
    const b = spawnDaemon(["--config", wrong]);
    expect(await b.exited).toBe(2);
    expect(b.stderr()).toContain(`lxnsd: ${wrong}: shutdown-grace: "soon" is invalid: must be a number of seconds from 0 to 86400`);

    const c = spawnDaemon([], { env: { ...process.env, LXNSD_LOG_LEVEL: "loud" } });
    expect(await c.exited).toBe(2);
    expect(c.stderr()).toMatch(/option '--log-level <level>' value 'loud' from env 'LXNSD_LOG_LEVEL' is invalid/);

    const d = spawnDaemon(["--config", path.join(dir, "missing.yaml")]);
    expect(await d.exited).toBe(2);
    expect(d.stderr()).toMatch(/cannot read config file .*missing\.yaml/);
  });

  it("refuses a --socket-group that names no group (exit 1, no socket left behind), a relative --mount-source-root, --max-connection-idle 0 or a policy naming a user namespace by number (exit 2)", async () => {
    const socket = path.join(dir, "lxnsd.sock");
    const noGroup = spawnDaemon(["--listen", `unix:${socket}`, "--socket-group", "lxnsd-no-such-group"]);
    expect(await noGroup.exited).toBe(1);
    expect(noGroup.stderr()).toContain('lxnsd: --socket-group: no group "lxnsd-no-such-group" in /etc/group');
    expect(existsSync(socket)).toBe(false);

    const noIdle = spawnDaemon(["--listen", `unix:${socket}`, "--max-connection-idle", "0"]);
    expect(await noIdle.exited).toBe(2);
    expect(noIdle.stderr()).toContain("option '--max-connection-idle <seconds>' argument '0' is invalid. must be a positive integer");

    const numbered = configFile("policy.json", JSON.stringify({ identities: [{ name: "t", scopes: ["read"], "unix-uids": [2000], targets: { "user-namespaces": [4026531837] } }] }));
    const inode = spawnDaemon(["--listen", `unix:${socket}`, "--policy", numbered]);
    expect(await inode.exited).toBe(2);
    expect(inode.stderr()).toContain(`lxnsd: invalid policy ${numbered}:\n  identities.0.targets.user-namespaces.0: a number (inode) may name another namespace`);
    expect(inode.stderr()).toContain("by a path the daemon holds from start");
    expect(existsSync(socket)).toBe(false);

    const relative = spawnDaemon(["--listen", `unix:${socket}`, "--mount-source-root", "srv/mounts"]);
    expect(await relative.exited).toBe(2);
    expect(relative.stderr()).toContain("option '--mount-source-root <dir>' argument 'srv/mounts' is invalid. must be an absolute, normalized path");
  });
});
