import { readFileSync } from "node:fs";

/** KTIME_SEC_MAX (include/linux/ktime.h): the whole seconds of KTIME_MAX, (2^63 - 1) / 1e9. */
export const KTIME_SEC_MAX = 9_223_372_036n;
const NANOS_PER_SECOND = 1_000_000_000n;

/** The clocks a time namespace offsets. */
export type OffsetClock = "monotonic" | "boottime";

let ownOffsets: Record<OffsetClock, bigint> | undefined;

/**
 * The offsets of the daemon's own time namespace, in nanoseconds (all zero in
 * the initial one). Read once: the daemon never changes its namespaces.
 */
function daemonOffsets(): Record<OffsetClock, bigint> {
  if (ownOffsets) return ownOffsets;
  const offsets: Record<OffsetClock, bigint> = { monotonic: 0n, boottime: 0n };
  try {
    for (const line of readFileSync("/proc/self/timens_offsets", "utf8").split("\n")) {
      const [clock, seconds, nanos] = line.trim().split(/\s+/);
      if (clock === "monotonic" || clock === "boottime") offsets[clock] = BigInt(seconds) * NANOS_PER_SECOND + BigInt(nanos);
    }
  } catch {
    // A kernel without time namespaces: no offsets.
  }
  return (ownOffsets = offsets);
}

/**
 * The clock as the kernel reads it when it checks an offset (ktime_get_ts64,
 * ktime_get_boottime_ts64: the initial time namespace's), in nanoseconds: the
 * daemon's view minus its own namespace's offset. CLOCK_BOOTTIME comes from
 * /proc/uptime (10 ms resolution; Node has no CLOCK_BOOTTIME).
 */
function kernelClockNanos(clock: OffsetClock): bigint {
  const view =
    clock === "monotonic"
      ? process.hrtime.bigint()
      : (() => {
          const [whole, fraction = "0"] = readFileSync("/proc/uptime", "utf8").split(" ")[0].split(".");
          return BigInt(whole) * NANOS_PER_SECOND + BigInt(fraction.padEnd(9, "0").slice(0, 9));
        })();
  return view - daemonOffsets()[clock];
}

/**
 * Why the kernel would refuse OFFSET for CLOCK with ERANGE when it is written
 * to /proc/PID/timens_offsets, or undefined if it takes it. The rules of
 * proc_timens_set_offset (kernel/time/namespace.c): |seconds| at most
 * KTIME_SEC_MAX, and the clock plus the offset from 0 to KTIME_SEC_MAX / 2
 * seconds (so that KTIME_MAX stays out of reach). SECONDS and NANOS as
 * written, nanoseconds already in [0, 1e9).
 */
export function offsetRefusal(clock: OffsetClock, seconds: bigint, nanos: number): string | undefined {
  if (seconds > KTIME_SEC_MAX || seconds < -KTIME_SEC_MAX) return `the kernel takes at most ${KTIME_SEC_MAX} seconds either way`;
  const now = kernelClockNanos(clock);
  const result = now + seconds * NANOS_PER_SECOND + BigInt(nanos);
  const limit = KTIME_SEC_MAX / 2n;
  if (result < 0n || result / NANOS_PER_SECOND > limit) {
    return `CLOCK_${clock.toUpperCase()} (now ${now / NANOS_PER_SECOND} s) would read ${result / NANOS_PER_SECOND} s; the kernel takes offsets that keep it from 0 to ${limit} s`;
  }
  return undefined;
}
