import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NamespaceType, createClient, status } from "../../client";
import { spawnDaemon } from "../helpers/daemon-process";
import { describeRoot } from "../helpers/privileged";

describeRoot("lxnsd's structured log", () => {
  it("is one JSON object a line, one line per call with its own id, method and outcome; --log-level from env", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-logs-"));
    const socket = `unix:${path.join(dir, "lxnsd.sock")}`;
    const daemon = spawnDaemon(["--listen", socket], { env: { ...process.env, LXNSD_LOG_LEVEL: "debug" } });
    const client = createClient(socket);
    try {
      await daemon.ready;
      await client.getCurrentNamespaces();
      await expect(client.inspect({ ref: { type: NamespaceType.NET, source: { case: "pid", value: 0 } } })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    } finally {
      client.disconnect();
      expect(await daemon.stop()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
    const lines = daemon.stderr().trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.every((line) => line.service === "lxnsd" && typeof line.time === "number" && typeof line.level === "number")).toBe(true);
    const calls = lines.filter((line) => line.call !== undefined);
    expect(calls).toEqual([
      expect.objectContaining({ level: 20, method: "NamespaceService/GetCurrentNamespaces", msg: "call ok", seconds: expect.any(Number) }),
      expect.objectContaining({ level: 30, method: "NamespaceService/Inspect", code: "INVALID_ARGUMENT" }),
    ]);
    expect(calls[0].call).toMatch(/^[0-9a-f-]{36}$/);
    expect(calls[1].call).not.toBe(calls[0].call);
  });

  it("has a Run's \"program started\" at info, with the call's id, method and identity, and no \"call ok\" (debug) there", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-logs-"));
    const socket = `unix:${path.join(dir, "lxnsd.sock")}`;
    const daemon = spawnDaemon(["--listen", socket], { env: { ...process.env, LXNSD_LOG_LEVEL: "info" } });
    const client = createClient(socket);
    try {
      await daemon.ready;
      expect((await client.run({ argv: ["/bin/true"] })).exit.code).toBe(0);
    } finally {
      client.disconnect();
      expect(await daemon.stop()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
    const lines = daemon.stderr().trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    const started = lines.filter((line) => line.msg === "program started");
    expect(started).toEqual([
      expect.objectContaining({ level: 30, method: "ProcessService/Run", identity: expect.any(String), pid: expect.any(Number), argv: ["/bin/true"] }),
    ]);
    expect(started[0].call).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines.filter((line) => line.msg === "call ok")).toEqual([]);
  });
});
