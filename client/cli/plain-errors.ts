import { statSync } from "node:fs";
import * as path from "node:path";
import { LxnsdError } from "../lxnsd-error";

/** What lxnsctl knows of the call that failed, for saying it in plain words. */
export interface CallContext {
  /** The daemon address it connected to (unix:PATH or HOST:PORT). */
  address?: string;
  /** --timeout, in ms. */
  timeoutMs?: number;
}

const UNIX_PREFIX = "unix:";

/** "the socket is mode 0660" when the socket can be looked at, else "". */
function socketMode(address: string): string {
  if (!address.startsWith(UNIX_PREFIX)) return "";
  try {
    return ` the socket is mode ${(statSync(address.slice(UNIX_PREFIX.length)).mode & 0o7777).toString(8).padStart(4, "0")};`;
  } catch {
    return "";
  }
}

/** grpc-js's "connect ENOENT /run/…" as the words a user can act on. */
function connectFailure(err: LxnsdError, context: CallContext): string | undefined {
  const match = /\bconnect (E[A-Z]+)\b/.exec(err.message);
  if (!match) return undefined;
  const address = context.address ?? "the daemon";
  const hint = "(is lxnsd running? --address, LXNSD_ADDRESS)";
  switch (match[1]) {
    case "ENOENT":
      return `cannot connect to ${address}: no such socket ${hint}`;
    case "ECONNREFUSED":
      return `cannot connect to ${address}: nothing listens there ${hint}`;
    case "EACCES":
      return `cannot connect to ${address}: permission denied:${socketMode(address)} ask for its group (--socket-group)`;
    default:
      return `cannot connect to ${address}: ${match[1]} ${hint}`;
  }
}

/** `execve(/a/prog:/b/prog): ENOENT` as "prog: not found in /a:/b": the list once, as directories. */
function programNotFound(err: LxnsdError): string | undefined {
  const match = /execve\(([^)]*)\): (ENOENT|ENOTDIR)/.exec(err.message);
  if (!match) return undefined;
  const candidates = match[1].split(":").filter((c) => c !== "");
  if (candidates.length === 0) return undefined;
  const name = path.posix.basename(candidates[0]);
  if (candidates.length === 1) return `${candidates[0]}: no such program (${match[2]})`;
  return `${name}: not found in ${candidates.map((c) => path.posix.dirname(c)).join(":")} (${match[2]})`;
}

/** The daemon's "joined user namespace N, then setns(TYPE) ERRNO: why" alone, without the step and syscall said again around it. */
function joinAfterUserNamespace(err: LxnsdError): string | undefined {
  return /joined user namespace \d+, then setns\(\w+\) E[A-Z]+: [^()]*[^()\s]/.exec(err.message)?.[0];
}

/**
 * The message for a failed call, in plain words where lxnsctl knows better
 * than the transport: a socket that is missing or closed to the caller, a
 * pid that names no process, a program not found on PATH, --timeout, a
 * join that failed after a user namespace was joined. Else
 * the daemon's message. Always `CODE: message` for a call's failure.
 */
export function plainMessage(err: unknown, context: CallContext = {}): string {
  if (!(err instanceof LxnsdError)) return err instanceof Error ? err.message : String(err);
  const words = (() => {
    if (err.codeName === "UNAVAILABLE") return connectFailure(err, context);
    if (err.codeName === "DEADLINE_EXCEEDED" && /^Deadline exceeded after/.test(err.message)) {
      return context.timeoutMs !== undefined ? `no answer within --timeout ${context.timeoutMs} ms` : "no answer within the call's deadline";
    }
    if (err.errno === "ESRCH" && err.syscall === "pidfd_open") {
      const pid = /\bprocess (\d+)/.exec(err.message)?.[1];
      return pid !== undefined ? `no process ${pid}` : undefined;
    }
    if (err.step === "execve" || err.syscall === "execve") return programNotFound(err);
    if (err.step?.startsWith("joined user namespace ")) return joinAfterUserNamespace(err);
    return undefined;
  })();
  return `${err.codeName}: ${words ?? err.message}`;
}
