import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NamespaceType } from "../../client";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { codeOf } from "../helpers/outcome";
import { describeRoot } from "../helpers/privileged";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";

// --mount-source-root is checked on the very file that is mounted: a symlink swapped
// between a directory inside the root and one outside while BindMounts run never
// mounts the outside one (it used to be realpath, then open_tree of the path again).

describeRoot("BindMount source root against a swapped symlink", () => {
  let scratch: string;
  let lxnsd: TestDaemon;
  let target: Target;
  let swapper: ChildProcess | undefined;

  beforeAll(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), "lxnsd-bm-race-"));
    for (const [dir, content] of [["root/in", "inside"], ["out", "outside"]]) {
      mkdirSync(path.join(scratch, dir), { recursive: true });
      writeFileSync(path.join(scratch, dir, "marker"), content);
    }
    mkdirSync(path.join(scratch, "dest"));
    symlinkSync("in", path.join(scratch, "root", "link"));
    lxnsd = await startDaemon({ mountSourceRoots: [path.join(scratch, "root")] });
    target = await startTarget(["unshare", "--mount", "--propagation", "private"]);
  });

  afterAll(async () => {
    swapper?.kill("SIGKILL");
    await target?.kill();
    await lxnsd?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("300 BindMounts while the symlink flips between inside and outside: none mounts the outside", async () => {
    const link = path.join(scratch, "root", "link");
    // rename(2) swaps the link atomically: it always exists, pointing inside or outside.
    swapper = spawn(
      "sh",
      ["-c", `cd ${path.join(scratch, "root")} && while :; do ln -sfn in a && mv -T a link; ln -sfn ../out b && mv -T b link; done`],
      { stdio: "ignore" },
    );
    const outcomes = new Map<string, number>();
    const count = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    for (let i = 0; i < 300; i++) {
      const code = await codeOf(
        lxnsd.client.bindMount({ source: link, target: { type: NamespaceType.MNT, source: { case: "pid", value: target.pid } }, targetPath: path.join(scratch, "dest") }),
      );
      if (code !== "OK") {
        count(code);
        continue;
      }
      // The newest mount on dest is the one just made.
      count(readFileSync(`/proc/${target.pid}/root${path.join(scratch, "dest", "marker")}`, "utf8"));
    }
    swapper.kill("SIGKILL");
    expect(Object.fromEntries(outcomes)).not.toHaveProperty("outside");
    expect(outcomes.get("inside") ?? 0).toBeGreaterThan(0);
    expect(outcomes.get("INVALID_ARGUMENT") ?? 0).toBeGreaterThan(0);
  }, 120_000);
});
