import { readdirSync } from "node:fs";
import { randomInt } from "node:crypto";
import { NamespaceType, status } from "../../client";
import { describeRoot } from "../helpers/privileged";
import { processState, waitFor } from "../helpers/proc";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";
import { startDaemonUnderTest } from "./support/daemon-under-test";
import type { DaemonUnderTest, Holdings } from "./support/daemon-under-test";
import { processesWith, runMarker } from "./support/markers";
import { Tally, runPool, statusOf } from "./support/outcomes";

const SESSIONS = 200;
const MOMENTS = ["before start", "after start", "at the prompt", "mid-output"] as const;

describeRoot("faults: 200 tty sessions cancelled at random moments", () => {
  let lxnsd: DaemonUnderTest;
  let target: Target;
  let baseline: Holdings;
  const marker = runMarker();

  beforeAll(async () => {
    lxnsd = await startDaemonUnderTest();
    // A container-like target: its own mount namespace and devpts, where the sessions' ptys come from.
    target = await startTarget(["unshare", "-m", "--propagation", "private", "sh", "-c", 'mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts && exec "$0" "$@"']);
    await lxnsd.client.run({ argv: ["true"] });
    baseline = await lxnsd.settled();
  });
  afterAll(async () => {
    await target?.kill();
    if (lxnsd) expect(await lxnsd.stop()).toBe(0);
  });

  const ptys = () => readdirSync(`/proc/${target.pid}/root/dev/pts`).filter((name) => name !== "ptmx");

  it("each ends CANCELLED, and no program, pty, fd or child is left", async () => {
    const tally = new Tally();
    await runPool(SESSIONS, 16, async (index) => {
      const controller = new AbortController();
      const session = lxnsd.client.exec(
        {
          join: [{ type: NamespaceType.MNT, source: { case: "pid", value: target.pid } }],
          argv: ["sh", "-i", "-s", marker], // commands from the terminal; the marker as $1, on its command line
          env: ["PATH=/usr/bin:/bin", "PS1=tty$ "],
          tty: true,
          terminalSize: { rows: 24, cols: 80 },
        },
        { signal: controller.signal },
      );
      const moment = MOMENTS[index % MOMENTS.length];
      if (moment === "before start") setTimeout(() => controller.abort(), randomInt(0, 3));
      else if (moment === "after start") void session.started.then(() => controller.abort(), () => {});
      const backstop = setTimeout(() => controller.abort(), 20000);
      let seen = "";
      let typed = false;
      const code = await statusOf(
        (async () => {
          for await (const chunk of session.output) {
            seen += Buffer.from(chunk.data).toString("latin1");
            if (!typed && seen.includes("tty$ ")) {
              typed = true;
              if (moment === "at the prompt") setTimeout(() => controller.abort(), randomInt(0, 20));
              // A background job of the session, and output that never ends on its own.
              else await session.write(`sleep ${marker} & while :; do echo tick; sleep 0.005; done\n`).catch(() => {});
              if (moment === "mid-output") setTimeout(() => controller.abort(), randomInt(10, 80));
            }
          }
          return session.wait();
        })(),
      );
      clearTimeout(backstop);
      tally.add(`cancel ${moment}`, code);
    });
    console.log(`tty-cancel: ${SESSIONS} sessions\n${tally}`);
    for (const moment of MOMENTS) {
      const kind = `cancel ${moment}`;
      expect({ kind, unexpected: tally.unexpected(kind, [status.CANCELLED]) }).toEqual({ kind, unexpected: [] });
    }
    await lxnsd.expectBack(baseline);
    expect(lxnsd.holdings().children.filter((child) => processState(child.pid) === "Z")).toEqual([]);
    expect(processesWith(marker)).toEqual([]);
    // The kernel frees a pty once both of its sides are closed (in a work item of its own).
    await waitFor(() => ptys().length === 0, 5000, `no pty left in the target's devpts (left: ${ptys().join(" ")})`);
  });
});
