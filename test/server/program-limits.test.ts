import { LxnsdError, status } from "../../client";
import * as native from "../../native/lib";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { waitFor } from "../helpers/proc";

/** The error a call rejected with (fails the test when it resolved or threw something else). */
async function errorOf(call: Promise<unknown>): Promise<LxnsdError> {
  try {
    await call;
  } catch (err) {
    if (err instanceof LxnsdError) return err;
    throw err;
  }
  throw new Error("the call succeeded");
}

// The addon owns a program's limits: --child-timeout bounds the steps before execve (a pre-exec step
// that hangs is made here by the test-only testPreExecSleepMs, the addon's debugSleepMs), spec.timeout
// bounds the whole lifetime, those steps included.
describeRoot("Run/Exec: the steps before execve are bounded", () => {
  let lxnsd: TestDaemon;
  let baseline: number;

  beforeAll(async () => {
    lxnsd = await startDaemon({ childTimeoutMs: 300, testPreExecSleepMs: 5000 });
    baseline = native.runningChildren();
  });
  afterAll(async () => {
    await lxnsd.stop();
  });

  it("Run: a hung pre-exec step ends at --child-timeout with DEADLINE_EXCEEDED at that step; nothing is left", async () => {
    const started = Date.now();
    const err = await errorOf(lxnsd.client.run({ argv: ["true"] }));
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    expect(err.step).toBe(native.STEP.debugSleep);
    expect(Date.now() - started).toBeLessThan(3000);
    await waitFor(() => native.runningChildren() === baseline, 2000, "no child left");
  });

  it("Exec: likewise", async () => {
    const started = Date.now();
    const err = await errorOf(lxnsd.client.exec({ argv: ["true"] }).wait());
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    expect(err.step).toBe(native.STEP.debugSleep);
    expect(Date.now() - started).toBeLessThan(3000);
    await waitFor(() => native.runningChildren() === baseline, 2000, "no child left");
  });

  it("spec.timeout shorter than --child-timeout bounds the steps before execve too", async () => {
    const other = await startDaemon({ childTimeoutMs: 10_000, testPreExecSleepMs: 5000 });
    try {
      const started = Date.now();
      const err = await errorOf(other.client.run({ argv: ["true"], timeout: { nanos: 200_000_000 } }));
      expect(err.code).toBe(status.DEADLINE_EXCEEDED);
      expect(err.message).toContain("timed out after 200 ms in step debug sleep");
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await other.stop();
    }
  });

  it("spec.timeout beyond the addon's timer is INVALID_ARGUMENT, not a timer that fires at once", async () => {
    const err = await errorOf(lxnsd.client.run({ argv: ["true"], timeout: { seconds: 3_000_000n } }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
  });
});
