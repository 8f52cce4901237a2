import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { NamespaceType, status } from "../../client";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";

describeRoot("argv[0] is looked up on PATH inside the joined mount namespace", () => {
  let lxnsd: TestDaemon;
  let target: Target;
  const program = `lxnsd-only-in-target-${randomBytes(4).toString("hex")}`;

  beforeAll(async () => {
    lxnsd = await startDaemon();
    // A mount namespace of its own whose /usr/local/sbin (first on the default PATH) is a tmpfs holding `program`.
    target = await startTarget(["unshare", "--mount", "--propagation", "private"]);
    const inTarget = (script: string) => execFileSync("nsenter", ["-t", String(target.pid), "-m", "sh", "-c", script]);
    inTarget(`mount -t tmpfs lxnsd-path-test /usr/local/sbin && printf '#!/bin/sh\\necho found in the target: "$@"\\n' > /usr/local/sbin/${program} && chmod +x /usr/local/sbin/${program}`);
  });
  afterAll(async () => {
    await target?.kill();
    await lxnsd?.stop();
  });

  it("a program only the target's mount namespace has on PATH runs there, and is NOT_FOUND on the host", async () => {
    expect(existsSync(`/usr/local/sbin/${program}`)).toBe(false);
    const join = [{ type: NamespaceType.MNT, source: { case: "pid" as const, value: target.pid } }];
    const result = await lxnsd.client.run({ join, argv: [program, "yes"] });
    expect(result.exit).toEqual({ code: 0 });
    expect(result.stdout.toString()).toBe("found in the target: yes\n");
    await expect(lxnsd.client.run({ argv: [program] })).rejects.toMatchObject({ code: status.NOT_FOUND, step: "execve" });
  });

  it("an explicit PATH is searched in the joined namespace too, in order", async () => {
    const join = [{ type: NamespaceType.MNT, source: { case: "pid" as const, value: target.pid } }];
    const result = await lxnsd.client.run({ join, argv: [program], env: ["PATH=/nonexistent:/usr/local/sbin"] });
    expect(result.stdout.toString()).toBe("found in the target:\n");
    await expect(lxnsd.client.run({ join, argv: [program], env: ["PATH=/usr/bin:/bin"] })).rejects.toMatchObject({ code: status.NOT_FOUND });
  });
});
