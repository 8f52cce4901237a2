import { LxnsdError } from "../../client";
import { ChildSlots } from "../../server/programs/child-slots";
import { startDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { childrenOf, processState, waitFor } from "../helpers/proc";

describe("ChildSlots", () => {
  it("grants up to maxChildren, queues up to maxQueue in order, refuses the rest, and skips cancelled waiters", async () => {
    const slots = new ChildSlots({ maxChildren: 1, maxQueue: 2 });
    const live = new AbortController().signal;
    const first = await slots.acquire(live);
    const order: string[] = [];
    const cancelled = new AbortController();
    const second = slots.acquire(cancelled.signal).then(() => order.push("second"), () => order.push("second cancelled"));
    const third = slots.acquire(live).then((release) => {
      order.push("third");
      return release;
    });
    await expect(slots.acquire(live)).rejects.toMatchObject({ code: 8, reason: "CHILD_LIMIT" });
    expect([slots.active, slots.waiting]).toEqual([1, 2]);
    cancelled.abort(new Error("gone"));
    await second;
    expect(slots.waiting).toBe(1);
    first();
    first(); // a second release is harmless
    (await third)();
    expect(order).toEqual(["second cancelled", "third"]);
    expect([slots.active, slots.waiting]).toEqual([0, 0]);
  });
});

describeRoot("the child limit of a daemon", () => {
  it("queues calls beyond --max-children, refuses beyond --max-queue with RESOURCE_EXHAUSTED, and recovers", async () => {
    const daemon = await startDaemon({ maxChildren: 1, maxQueue: 1 });
    try {
      const holder = daemon.client.exec({ argv: ["/bin/sleep", "30"] });
      const pid = await holder.started;
      const queued = daemon.client.run({ argv: ["/bin/echo", "queued"] });
      await waitFor(() => daemon.daemon.slots.waiting === 1, 5000, "a queued call");
      const before = childrenOf().length;
      const refused = await daemon.client.run({ argv: ["/bin/echo", "refused"] }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(LxnsdError);
      expect((refused as LxnsdError).codeName).toBe("RESOURCE_EXHAUSTED");
      expect((refused as LxnsdError).reason).toBe("CHILD_LIMIT");
      expect(childrenOf().length).toBe(before);
      holder.cancel();
      await waitFor(() => processState(pid) === null, 5000, "the held program to go");
      expect((await queued).stdout.toString()).toBe("queued\n");
      expect((await daemon.client.run({ argv: ["/bin/echo", "again"] })).stdout.toString()).toBe("again\n");
      expect([daemon.daemon.slots.active, daemon.daemon.slots.waiting]).toEqual([0, 0]);
    } finally {
      await daemon.stop();
    }
  });
});
