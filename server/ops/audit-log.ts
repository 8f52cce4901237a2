import * as path from "node:path";
import pino from "pino";
import type { Logger } from "pino";

/** Where audit lines go: "stderr", "off", or an absolute file path (appended to). */
export type AuditDestination = string;

/** Whether `value` is a valid --audit-log. */
export function auditDestinationProblem(value: string): string | undefined {
  if (value === "stderr" || value === "off" || path.isAbsolute(value)) return undefined;
  return `--audit-log must be stderr, off or an absolute file path, got ${JSON.stringify(value)}`;
}

/**
 * The audit stream: a logger of its own, at a level of its own (info), so that
 * --log-level never silences it. undefined for "off". A file is opened (created
 * mode 0600, appended to) now, so that a bad path stops the daemon at start.
 */
export function openAuditLog(destination: AuditDestination): { log: Logger; close(): void } | undefined {
  if (destination === "off") return undefined;
  // Written synchronously: an audit line is on its way before the call's answer is.
  const stream =
    destination === "stderr"
      ? pino.destination({ dest: 2, sync: true })
      : pino.destination({ dest: destination, append: true, sync: true, mode: 0o600 } as Parameters<typeof pino.destination>[0]);
  const log = pino({ level: "info", base: { service: "lxnsd", stream: "audit" } }, stream);
  // fd 2 stays open: the daemon's log writes there too.
  return { log, close: () => (destination === "stderr" ? undefined : stream.end()) };
}
