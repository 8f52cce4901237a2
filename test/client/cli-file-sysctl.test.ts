import { execFileSync } from "node:child_process";
import { Readable } from "node:stream";
import { captureCli } from "../helpers/cli";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { startPivoted } from "../server/files/pivoted-root";
import type { PivotedTarget } from "../server/files/pivoted-root";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";

describeRoot("lxnsctl file and sysctl against a daemon", () => {
  let lxnsd: TestDaemon;
  let target: PivotedTarget;
  let net: Target;
  const cli = (argv: string[], stdin?: string) => captureCli(["--address", lxnsd.address, ...argv], stdin === undefined ? {} : { stdin: Readable.from([Buffer.from(stdin)]) });

  beforeAll(async () => {
    lxnsd = await startDaemon();
    target = await startPivoted();
    net = await startTarget(["unshare", "--net", "--uts"]);
  });
  afterAll(async () => {
    await target?.cleanup();
    await net?.kill();
    await lxnsd?.stop();
  });

  it("put reads stdin, cat prints, stat and ls describe", async () => {
    const t = String(target.pid);
    expect(await cli(["file", "put", "-t", t, "--mode", "640", "/data/cli"], "from stdin\n")).toMatchObject({ code: 0, stdout: "" });
    expect(target.inside("cat /data/cli; stat -c %a /data/cli")).toBe("from stdin\n640\n");
    expect(await cli(["file", "put", "-t", t, "--append", "/data/cli"], "more\n")).toMatchObject({ code: 0 });
    expect(await cli(["file", "cat", "-t", t, "/data/cli"])).toMatchObject({ code: 0, stdout: "from stdin\nmore\n" });
    expect(await cli(["file", "put", "-t", t, "--create-new", "/data/cli"], "x")).toMatchObject({ code: 1, stderr: expect.stringContaining("ALREADY_EXISTS") });
    const stat = await cli(["file", "stat", "-t", t, "/data/cli"]);
    expect(stat.stdout).toContain("type regular\nsize 16\nmode 0640 (-rw-r-----)\n");
    const ls = await cli(["file", "ls", "-t", t, "/data"]);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^-rw-r-----\s+0\s+0\s+16 \d{4}-\d\d-\d\d \d\d:\d\d cli$/m);
    expect(ls.stdout).toMatch(/ hello$/m);
    expect(JSON.parse((await cli(["--json", "file", "ls", "-t", t, "/data"])).stdout).entries.map((e: { name: string }) => e.name)).toContain("cli");
    expect((await cli(["file", "cat", "/data/cli"])).code).toBe(2);
    expect((await cli(["file", "cat", "-t", t, "/data/missing"])).stderr).toContain("NOT_FOUND");
  });

  it("sysctl reads and sets as sysctl -w, in the target's namespace", async () => {
    const t = String(net.pid);
    const before = execFileSync("nsenter", ["-t", t, "-n", "sysctl", "-n", "net.ipv4.ip_forward"], { encoding: "utf8" }).trim();
    expect(await cli(["sysctl", "-t", t, "net.ipv4.ip_forward"])).toMatchObject({ code: 0, stdout: `net.ipv4.ip_forward = ${before}\n` });
    const want = before === "1" ? "0" : "1";
    expect(await cli(["sysctl", "-t", t, `net.ipv4.ip_forward=${want}`])).toMatchObject({ code: 0, stdout: `net.ipv4.ip_forward = ${want}\n` });
    expect(execFileSync("nsenter", ["-t", t, "-n", "sysctl", "-n", "net.ipv4.ip_forward"], { encoding: "utf8" }).trim()).toBe(want);
    expect(await cli(["sysctl", "-t", t, "-n", "kernel.hostname=cli-box"])).toMatchObject({ code: 0, stdout: "cli-box\n" });
    expect(execFileSync("nsenter", ["-t", t, "-u", "hostname"], { encoding: "utf8" }).trim()).toBe("cli-box");
    expect(await cli(["sysctl", "-t", t, "vm.swappiness"])).toMatchObject({ code: 1, stderr: expect.stringContaining("INVALID_ARGUMENT") });
  });
});
