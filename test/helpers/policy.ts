import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import pino from "pino";
import type { Logger } from "pino";

/** A fresh random bearer token. */
export function newToken(): string {
  return randomBytes(24).toString("base64url");
}

/** How the policy stores a token. */
export function tokenHash(token: string): string {
  return `sha256:${createHash("sha256").update(token).digest("hex")}`;
}

/** Writes `policy` as JSON (or YAML text as given) to a temp file; returns its path. */
export function writePolicy(policy: unknown, name = "policy.json"): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "lxnsd-policy-")), name);
  writeFileSync(file, typeof policy === "string" ? policy : JSON.stringify(policy, null, 2));
  return file;
}

/** A logger whose JSON lines the test can read. */
export function capturingLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}
