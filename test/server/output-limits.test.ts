import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { LxnsdError } from "../../client";
import { largestOutputCap, MIN_MAX_MESSAGE_BYTES, messageLimitProblem } from "../../server/programs/output-limits";
import { defaultConfig } from "../../server/config/config";
import { Daemon } from "../../server/daemon";
import pino from "pino";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { childrenOf } from "../helpers/proc";
import { spawnDaemon } from "../helpers/daemon-process";

describe("output limits", () => {
  it("the largest cap fits twice in a message with room for the rest of the answer; the default message limit halves 16 MiB", () => {
    expect(largestOutputCap(16 * 1024 * 1024)).toBe(8 * 1024 * 1024 - 512);
    expect(largestOutputCap(64 * 1024 * 1024)).toBe(16 * 1024 * 1024);
    expect(messageLimitProblem(16 * 1024 * 1024)).toBeUndefined();
    expect(messageLimitProblem(MIN_MAX_MESSAGE_BYTES)).toBeUndefined();
    expect(messageLimitProblem(MIN_MAX_MESSAGE_BYTES - 1)).toMatch(/--max-message-bytes .* too small/);
  });

  it("a daemon refuses a message limit that cannot carry the default output cap", () => {
    expect(() => new Daemon(defaultConfig({ listen: [], maxMessageBytes: 4096 }), pino({ level: "silent" }))).toThrow(/--max-message-bytes 4096 is too small/);
  });
});

describe("lxnsd at start", () => {
  it("exits 2 when --max-message-bytes cannot carry a Run answer at the default output cap, and serves at the smallest that can", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-output-"));
    try {
      const socket = `unix:${path.join(dir, "lxnsd.sock")}`;
      const small = spawnDaemon(["--listen", socket, "--max-message-bytes", String(MIN_MAX_MESSAGE_BYTES - 1)]);
      expect(await small.exited).toBe(2);
      expect(small.stderr()).toContain(`lxnsd: --max-message-bytes ${MIN_MAX_MESSAGE_BYTES - 1} is too small`);
      const smallest = spawnDaemon(["--listen", socket, "--max-message-bytes", String(MIN_MAX_MESSAGE_BYTES)]);
      await smallest.ready;
      expect(await smallest.stop()).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeRoot("Run's output caps against --max-message-bytes", () => {
  // A small message limit keeps the test's memory small; the rule is the same at 16 MiB.
  const maxMessageBytes = MIN_MAX_MESSAGE_BYTES + 4096;
  const largest = largestOutputCap(maxMessageBytes);
  let lxnsd: TestDaemon;
  let scratch: string;

  beforeAll(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), "lxnsd-output-"));
    lxnsd = await startDaemon({ maxMessageBytes });
  });
  afterAll(async () => {
    await lxnsd?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("a cap whose answer could not be sent is INVALID_ARGUMENT naming both limits, and nothing runs", async () => {
    const marker = path.join(scratch, "ran");
    const before = childrenOf().length;
    for (const cap of [largest + 1, 16 * 1024 * 1024]) {
      const refused = await lxnsd.client.run({ argv: ["/usr/bin/touch", marker] }, { maxOutputBytes: cap }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(LxnsdError);
      expect((refused as LxnsdError).codeName).toBe("INVALID_ARGUMENT");
      expect((refused as LxnsdError).message).toContain(`max_output_bytes: at most ${largest}`);
      expect((refused as LxnsdError).message).toContain(`--max-message-bytes ${maxMessageBytes}`);
    }
    expect(existsSync(marker)).toBe(false);
    expect(childrenOf().length).toBe(before);
  });

  it("a Run at the largest allowed cap, both streams full, is answered whole", async () => {
    const script = `head -c ${largest + 100} /dev/zero; head -c ${largest + 100} /dev/zero >&2`;
    const result = await lxnsd.client.run({ argv: ["/bin/sh", "-c", script] }, { maxOutputBytes: largest });
    expect(result.exit).toEqual({ code: 0 });
    expect(result.stdout.length).toBe(largest);
    expect(result.stderr.length).toBe(largest);
    expect(result.truncated).toBe(true);
  });
});
