import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Bytes of streamed chunks (Exec output, ReadFile data) between two
 * young-generation collections the daemon asks for itself.
 *
 * grpc-js copies every chunk into a frame of its own (Buffer.allocUnsafe of
 * 64 KiB + 5), memory outside V8's heap that only a collection frees. A
 * chunk leaves little garbage on the heap, so the young generation filled
 * (a scavenge) only every ~10k chunks, long after V8's external-memory and
 * allocation limits had started a full mark-compact: one per ~18 MiB sent,
 * half of the daemon's CPU time in a 256 MiB ReadFile. A scavenge every
 * 2 MiB frees the frames already written (≈0.2 ms each) and no mark-compact
 * is left to run (bench: `--trace-gc`, 5 × 256 MiB: 70 → 1 to 3).
 */
export const YOUNG_GC_EVERY_BYTES = 2 * 1024 * 1024;

type Collect = (options: { type: "minor" }) => void;

let collect: Collect | undefined;
let sinceLast = 0;
let collections = 0;

/**
 * V8's gc(), from a context made while --expose-gc was on: the daemon's own
 * global scope never gets one. Where none can be had, nothing: the
 * collections are a saving, never a condition of a stream.
 */
function collector(): Collect {
  if (!collect) {
    setFlagsFromString("--expose-gc");
    try {
      const gc: unknown = runInNewContext("typeof gc === 'function' ? gc : undefined");
      collect = typeof gc === "function" ? (gc as Collect) : () => undefined;
    } catch {
      collect = () => undefined;
    } finally {
      setFlagsFromString("--no-expose-gc");
    }
  }
  return collect;
}

/** Counts `bytes` of a chunk handed to grpc-js; every YOUNG_GC_EVERY_BYTES, a young-generation collection. */
export function chunkFramed(bytes: number): void {
  sinceLast += bytes;
  if (sinceLast < YOUNG_GC_EVERY_BYTES) return;
  sinceLast = 0;
  collections += 1;
  collector()({ type: "minor" });
}

/** Collections chunkFramed has asked for since the process started. */
export function youngCollections(): number {
  return collections;
}
