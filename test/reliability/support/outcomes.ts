import { status } from "@grpc/grpc-js";

/** The message of the last failed call statusOf saw, for reports of unexpected statuses. */
export let lastErrorMessage = "";

/** How a call ended: OK when it resolved, else the error's code (UNKNOWN for an error without one) and message. */
export async function outcomeOf(call: Promise<unknown>): Promise<{ code: status; message?: string }> {
  try {
    await call;
    return { code: status.OK };
  } catch (err) {
    lastErrorMessage = (err as Error).message;
    const code = (err as { code?: unknown }).code;
    return { code: typeof code === "number" ? code : status.UNKNOWN, message: lastErrorMessage };
  }
}

/** The gRPC status a call ended with (see outcomeOf). */
export async function statusOf(call: Promise<unknown>): Promise<status> {
  return (await outcomeOf(call)).code;
}

/** Counts of statuses per call kind, printed as one line per kind ("Run: OK 812, NOT_FOUND 3"). */
export class Tally {
  private readonly counts = new Map<string, Map<status, number>>();
  /** The first message seen per kind and status. */
  private readonly messages = new Map<string, string>();

  add(kind: string, code: status, message?: string): void {
    const byCode = this.counts.get(kind) ?? new Map<status, number>();
    byCode.set(code, (byCode.get(code) ?? 0) + 1);
    this.counts.set(kind, byCode);
    if (message !== undefined && !this.messages.has(`${kind}/${code}`)) this.messages.set(`${kind}/${code}`, message);
  }

  /** How many calls of `kind` ended with `code`; without a kind, of every kind. */
  count(code: status, kind?: string): number {
    const kinds = kind === undefined ? [...this.counts.values()] : [this.counts.get(kind) ?? new Map<status, number>()];
    return kinds.reduce((sum, byCode) => sum + (byCode.get(code) ?? 0), 0);
  }

  /** The statuses seen for `kind` that are not in `allowed`. */
  unexpected(kind: string, allowed: readonly status[]): status[] {
    return [...(this.counts.get(kind)?.keys() ?? [])].filter((code) => !allowed.includes(code));
  }

  /** unexpected(), each as "NAME ×count: first message" (for a failure to show what the daemon said). */
  explain(kind: string, allowed: readonly status[]): string[] {
    return this.unexpected(kind, allowed).map((code) => `${status[code]} ×${this.counts.get(kind)!.get(code)}: ${this.messages.get(`${kind}/${code}`) ?? "(no message)"}`);
  }

  total(): number {
    let sum = 0;
    for (const byCode of this.counts.values()) for (const n of byCode.values()) sum += n;
    return sum;
  }

  toString(): string {
    return [...this.counts]
      .map(([kind, byCode]) => `${kind}: ${[...byCode].map(([code, n]) => `${status[code]} ${n}`).join(", ")}`)
      .join("\n");
  }
}

/** Runs `count` tasks, at most `concurrency` at a time; task(i) for i in 0..count-1. */
export async function runPool(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
