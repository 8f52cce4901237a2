import { LxnsdError, createClient } from "../../client";
import { newToken, tokenHash, writePolicy } from "../helpers/policy";
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

describe("ChildSlots shared between identities", () => {
  const live = new AbortController().signal;

  it("with one identity holding every slot and a queue, another identity's call is granted next, then they alternate", async () => {
    const slots = new ChildSlots({ maxChildren: 1, maxQueue: 10 });
    const holder = await slots.acquire(live, "a");
    const order: string[] = [];
    const wait = (key: string, name: string) =>
      slots.acquire(live, key).then((release) => {
        order.push(name);
        release();
      });
    const calls = [wait("a", "a1"), wait("a", "a2"), wait("a", "a3"), wait("b", "b1"), wait("b", "b2")];
    expect(slots.waiting).toBe(5);
    holder();
    await Promise.all(calls);
    expect(order).toEqual(["b1", "a1", "b2", "a2", "a3"]);
    expect([slots.active, slots.waiting]).toEqual([0, 0]);
  });

  it("a freed slot goes to the identity running the fewest", async () => {
    const slots = new ChildSlots({ maxChildren: 3, maxQueue: 10 });
    const a = [await slots.acquire(live, "a"), await slots.acquire(live, "a")];
    const b = await slots.acquire(live, "b");
    const order: string[] = [];
    const waitA = slots.acquire(live, "a").then((release) => order.push("a") && release);
    const waitB = slots.acquire(live, "b").then((release) => order.push("b") && release);
    a[0](); // a runs 1, b runs 1: b was granted last, so a's waiter goes first
    await waitA;
    b(); // a runs 2, b runs 0
    await waitB;
    expect(order).toEqual(["a", "b"]);
  });

  it("a full queue makes room for an identity with fewer waiters: the longest queue's newest waiter is refused", async () => {
    const slots = new ChildSlots({ maxChildren: 1, maxQueue: 3 });
    const holder = await slots.acquire(live, "a");
    const outcomes: string[] = [];
    const wait = (key: string, name: string) =>
      slots.acquire(live, key).then(
        (release) => {
          outcomes.push(`${name} ran`);
          release();
        },
        (err: { reason?: string }) => void outcomes.push(`${name} ${err.reason}`),
      );
    const calls = [wait("a", "a1"), wait("a", "a2"), wait("a", "a3")];
    calls.push(wait("b", "b1")); // the queue is full of a's: a3 makes room
    calls.push(wait("a", "a4")); // a's queue is already the longest: refused
    expect(slots.waiting).toBe(3);
    holder();
    await Promise.all(calls);
    expect(outcomes).toEqual(["a3 CHILD_LIMIT", "a4 CHILD_LIMIT", "b1 ran", "a1 ran", "a2 ran"]);
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

describeRoot("the child slots of a daemon with two identities", () => {
  it("one identity holding the only slot with calls queued: the other identity's call runs next", async () => {
    const tokens = { a: newToken(), b: newToken() };
    const identity = (name: string, token: string) => ({ name, scopes: ["exec"], tokens: [tokenHash(token)] });
    const policyFile = writePolicy({ identities: [identity("a", tokens.a), identity("b", tokens.b)] });
    const daemon = await startDaemon({ maxChildren: 1, maxQueue: 16, policyFile });
    const a = createClient(daemon.address, { token: tokens.a });
    const b = createClient(daemon.address, { token: tokens.b });
    try {
      const holder = a.exec({ argv: ["/bin/sleep", "30"] });
      const pid = await holder.started;
      const finished: string[] = [];
      const run = (client: typeof a, name: string) => client.run({ argv: ["/bin/echo", name] }).then((result) => finished.push(result.stdout.toString().trim()));
      const queuedA = [run(a, "a1"), run(a, "a2")];
      await waitFor(() => daemon.daemon.slots.waiting === 2, 5000, "a's calls queued");
      const queuedB = run(b, "b1");
      await waitFor(() => daemon.daemon.slots.waiting === 3, 5000, "b's call queued");
      holder.cancel();
      await waitFor(() => processState(pid) === null, 5000, "the held program to go");
      await Promise.all([...queuedA, queuedB]);
      expect(finished).toEqual(["b1", "a1", "a2"]);
    } finally {
      a.disconnect();
      b.disconnect();
      await daemon.stop();
    }
  });
});
