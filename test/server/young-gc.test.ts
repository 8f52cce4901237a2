import { PerformanceObserver, constants } from "node:perf_hooks";
import { ProcessService } from "../../client";
import { serverServiceDefinition } from "../../server/rpc/response-serializer";
import { YOUNG_GC_EVERY_BYTES, youngCollections } from "../../server/rpc/young-gc";

/** Minor (scavenge) collections V8 reports while `work` runs. */
async function scavengesDuring(work: () => void): Promise<number> {
  let seen = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) seen += 1;
  });
  observer.observe({ entryTypes: ["gc"] });
  try {
    work();
    // gc entries are delivered asynchronously.
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    observer.disconnect();
  }
  return seen;
}

describe("young-generation collections paced by streamed chunks", () => {
  const exec = serverServiceDefinition(ProcessService).exec;
  const chunk = { msg: { case: "stdout", value: new Uint8Array(64 * 1024) } };

  it("runs one per YOUNG_GC_EVERY_BYTES of chunks framed, and V8 reports them as scavenges", async () => {
    const chunks = (3 * YOUNG_GC_EVERY_BYTES) / (64 * 1024);
    const before = youngCollections();
    const scavenges = await scavengesDuring(() => {
      for (let i = 0; i < chunks; i++) exec.responseSerialize(chunk);
    });
    expect(youngCollections() - before).toBe(3);
    expect(scavenges).toBeGreaterThanOrEqual(3);
  });

  it("leaves the process's own global scope without gc()", () => {
    exec.responseSerialize(chunk);
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  });

  it("asks for none for small responses", () => {
    const before = youngCollections();
    for (let i = 0; i < 1000; i++) exec.responseSerialize({ msg: { case: "stdout", value: new Uint8Array(100) } });
    expect(youngCollections() - before).toBe(0);
  });
});
