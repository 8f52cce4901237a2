import { execFile } from "node:child_process";
import { LXNSD_VERSION } from "../../api/version";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { CLI_MAIN } from "../helpers/cli-bin";
import { describeRoot } from "../helpers/privileged";

/** The bin as `npm run build` makes it: a launcher and the esbuild bundle (client/cli/build-bundle.js). */

/** Runs the bin; not spawnSync: the daemon answers from this process's event loop. */
function bin(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [CLI_MAIN, ...args], { encoding: "utf8" }, (err, stdout, stderr) => resolve({ status: err ? Number((err as { code?: number }).code ?? -1) : 0, stdout, stderr })),
  );
}

describeRoot("the lxnsctl bin (bundled): every command that loads code late still works", () => {
  let lxnsd: TestDaemon;

  beforeAll(async () => {
    lxnsd = await startDaemon();
  });
  afterAll(async () => {
    await lxnsd?.stop();
  });

  it("--version and --help", async () => {
    expect(await bin("--version")).toEqual({ status: 0, stdout: `lxnsctl ${LXNSD_VERSION}\n`, stderr: "" });
    const help = await bin("--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("  pins [name...]");
  });

  it("health (grpc-health-check reads its .proto at run time, from node_modules)", async () => {
    expect(await bin("--address", lxnsd.address, "health")).toEqual({ status: 0, stdout: "SERVING\n", stderr: "" });
  });

  it("exec, unshare --json, a failed call in plain words", async () => {
    expect(await bin("--address", lxnsd.address, "unshare", "-u", "--", "sh", "-c", "echo ok")).toEqual({ status: 0, stdout: "ok\n", stderr: "" });
    const current = await bin("--address", lxnsd.address, "--json", "current");
    expect(JSON.parse(current.stdout).namespaces).toHaveLength(8);
    expect(await bin("--address", lxnsd.address, "inspect", "-t", "999999999", "-n")).toMatchObject({ status: 1, stderr: "lxnsctl: NOT_FOUND: no process 999999999\n" });
  });
});
