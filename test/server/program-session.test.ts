import { getEventListeners } from "node:events";
import { status } from "@grpc/grpc-js";
import type { ExecPlan } from "../../server/programs/exec-plan";
import { startProgram } from "../../server/programs/session";
import { RpcError } from "../../server/errors";
import { describeRoot } from "../helpers/privileged";

/** A plan for `sh -c script` in the daemon's own namespaces (what planExec gives for a spec without joins). */
function plan(script: string, timeoutMs?: number): ExecPlan {
  return {
    joins: [],
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    release: () => {},
    spec: { join: [], exec: { candidates: ["/bin/sh"], argv: ["sh", "-c", script], env: ["PATH=/usr/bin:/bin"], cwd: "/" } },
  };
}

describeRoot("program sessions: the addon owns the limits", () => {
  it("the call's cancellation is registered once (with the addon), and it ends the program: CANCELLED", async () => {
    const controller = new AbortController();
    const session = await startProgram(plan("sleep 100"), { childTimeoutMs: 10_000 }, controller.signal, new Uint8Array(), 1024);
    try {
      expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
      controller.abort();
      expect(await session.exited).toEqual({ status: { case: "signal", value: 9 } });
      expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
      expect(() => session.checkStopped()).toThrow(expect.objectContaining({ code: status.CANCELLED }) as RpcError);
    } finally {
      session.dispose();
    }
  });

  it("the lifetime timeout is the addon's: DEADLINE_EXCEEDED from its timedOut, no timer here", async () => {
    const session = await startProgram(plan("sleep 100", 200), { childTimeoutMs: 10_000 }, new AbortController().signal, new Uint8Array(), 1024);
    try {
      expect(await session.exited).toEqual({ status: { case: "signal", value: 9 } });
      expect(() => session.checkStopped()).toThrow(expect.objectContaining({ code: status.DEADLINE_EXCEEDED }) as RpcError);
    } finally {
      session.dispose();
    }
  });
});
