import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { defaultCriEndpoint } from "../../server/containers/cri-endpoint";
import { DAEMON_MAIN, spawnDaemon } from "../helpers/daemon-process";
import type { DaemonProcess } from "../helpers/daemon-process";
import { describeRoot } from "../helpers/privileged";

/** The `cri` field of the daemon's "lxnsd serving" line (undefined: no runtime). */
function servingCri(daemon: DaemonProcess): unknown {
  const line = daemon.stderr().split("\n").find((text) => text.includes('"lxnsd serving"'));
  return (JSON.parse(line!) as { cri?: string }).cri;
}

describeRoot("lxnsd --cri-endpoint", () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-cri-flag-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("is documented in --help with its environment variable and default", () => {
    const help = execFileSync(process.execPath, [DAEMON_MAIN, "--help"], { encoding: "utf8" });
    expect(help).toContain("--cri-endpoint <endpoint>");
    expect(help).toMatch(/env:\s+LXNSD_CRI_ENDPOINT\b/);
    expect(help.replace(/\s+/g, " ")).toContain("the first that exists of unix:///run/containerd/containerd.sock, unix:///var/run/crio/crio.sock");
  });

  it("serves with the endpoint given (normalized to unix:///PATH), with none for \"\", and by default with the first CRI socket that exists", async () => {
    const listen = `unix:${path.join(dir, "lxnsd.sock")}`;
    const socket = path.join(dir, "containerd.sock");
    const given = spawnDaemon(["--listen", listen, "--cri-endpoint", `unix:${socket}`]);
    await given.ready;
    expect(servingCri(given)).toBe(`unix://${socket}`);
    expect(await given.stop()).toBe(0);

    const off = spawnDaemon(["--listen", listen], { env: { ...process.env, LXNSD_CRI_ENDPOINT: "" } });
    await off.ready;
    expect(servingCri(off)).toBeUndefined();
    expect(await off.stop()).toBe(0);

    const byDefault = spawnDaemon(["--listen", listen]);
    await byDefault.ready;
    expect(servingCri(byDefault)).toBe(defaultCriEndpoint() || undefined);
    expect(await byDefault.stop()).toBe(0);
  });

  it("exits 2 on an endpoint that is not a unix socket path, saying what it takes", async () => {
    const bad = spawnDaemon(["--listen", `unix:${path.join(dir, "lxnsd.sock")}`, "--cri-endpoint", "tcp://127.0.0.1:10010"]);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toContain(
      "option '--cri-endpoint <endpoint>' argument 'tcp://127.0.0.1:10010' is invalid. must be unix:///PATH with PATH an absolute, normalized socket path, or \"\" (no container runtime)",
    );
  });
});
