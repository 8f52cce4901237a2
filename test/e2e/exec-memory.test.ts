import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createClient } from "../../client";
import { spawnDaemon } from "../helpers/daemon-process";
import { describeRoot } from "../helpers/privileged";
import { statusField } from "../helpers/proc";

const kib = (pid: number, field: string) => Number(/^(\d+) kB$/.exec(statusField(pid, field))![1]);

describeRoot("Exec memory", () => {
  it("streams 256 MiB of stdout byte-exact while the daemon's RSS grows by far less", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-mem-"));
    const address = `unix:${path.join(dir, "lxnsd.sock")}`;
    const daemon = spawnDaemon(["--listen", address]);
    const client = createClient(address);
    try {
      await daemon.ready;
      const pid = daemon.proc.pid!;
      const warm = client.exec({ argv: ["head", "-c", "1048576", "/dev/zero"] });
      for await (const chunk of warm.output) void chunk;
      const rssBefore = kib(pid, "VmRSS");

      const script = "seq 1 40000000 | head -c 268435456";
      const expected = execFileSync("sh", ["-c", `${script} | sha256sum`], { encoding: "utf8" }).split(" ")[0];
      const session = client.exec({ argv: ["sh", "-c", script] });
      const hash = createHash("sha256");
      let bytes = 0;
      for await (const chunk of session.output) {
        hash.update(chunk.data);
        bytes += chunk.data.length;
      }
      expect(await session.wait()).toEqual({ code: 0 });
      expect(bytes).toBe(268435456);
      expect(hash.digest("hex")).toBe(expected);
      // The peak: nothing like the 256 MiB that went through piles up in the daemon.
      expect(kib(pid, "VmHWM") - rssBefore).toBeLessThan(80 * 1024);
    } finally {
      client.disconnect();
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
