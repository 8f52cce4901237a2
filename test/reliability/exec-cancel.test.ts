import { randomInt } from "node:crypto";
import { status } from "../../client";
import { describeRoot } from "../helpers/privileged";
import { processState } from "../helpers/proc";
import { startDaemonUnderTest } from "./support/daemon-under-test";
import type { DaemonUnderTest, Holdings } from "./support/daemon-under-test";
import { processesWith, runMarker } from "./support/markers";
import { Tally, runPool, statusOf } from "./support/outcomes";

const STREAMS = 1000;

describeRoot("faults: 1,000 Exec streams cancelled at random moments", () => {
  let lxnsd: DaemonUnderTest;
  let baseline: Holdings;
  const marker = runMarker();

  beforeAll(async () => {
    lxnsd = await startDaemonUnderTest();
    await lxnsd.client.run({ argv: ["true"] });
    baseline = await lxnsd.settled();
  });
  afterAll(async () => {
    if (lxnsd) expect(await lxnsd.stop()).toBe(0);
  });

  it("each ends with its exit or CANCELLED, and no program, fd or child is left", async () => {
    // A shell that prints and forks `sleep`s in its process group, so a cancel has a group to kill.
    const script = `echo started; for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 0.005; done; sleep ${marker}`;
    const tally = new Tally();
    const started = Date.now();
    await runPool(STREAMS, 32, async (index) => {
      const controller = new AbortController();
      const session = lxnsd.client.exec({ argv: ["sh", "-c", script, marker] }, { signal: controller.signal });
      // Cancel before the program started, right after, or a random while into its output.
      const moment = index % 3;
      if (moment === 0) setTimeout(() => controller.abort(), randomInt(0, 3));
      else if (moment === 1) void session.started.then(() => controller.abort(), () => {});
      // The program never ends on its own (its last sleep). On a loaded machine its output may come too late for the
      // planned cancel: this cancels it all the same, so that the suite cannot hang (the leak checks still apply).
      let backstopped = false;
      const backstop = setTimeout(() => ((backstopped = true), controller.abort()), 20000);
      let cancelling: NodeJS.Timeout | undefined;
      const code = await statusOf(
        (async () => {
          for await (const _chunk of session.output) {
            if (moment === 2 && !cancelling) cancelling = setTimeout(() => controller.abort(), randomInt(0, 50));
          }
          return session.wait();
        })(),
      );
      clearTimeout(backstop);
      tally.add(backstopped ? "cancelled by the 20 s backstop" : `cancel ${["before start", "after start", "mid-output"][moment]}`, code);
    });
    console.log(`exec-cancel: ${STREAMS} streams in ${Date.now() - started} ms\n${tally}`);
    // The program never ends on its own (the final sleep), so every stream must have been cancelled.
    for (const kind of ["cancel before start", "cancel after start", "cancel mid-output", "cancelled by the 20 s backstop"]) {
      expect({ kind, unexpected: tally.unexpected(kind, [status.CANCELLED]) }).toEqual({ kind, unexpected: [] });
    }
    await lxnsd.expectBack(baseline);
    expect(lxnsd.holdings().children.filter((child) => processState(child.pid) === "Z")).toEqual([]);
    expect(processesWith(marker)).toEqual([]);
  });
});
