import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import type { Policy } from "./policy";
import { SCOPES } from "./scopes";
import type { Scope } from "./scopes";

// Loaded only when the daemon is given --policy: zod and yaml cost ~15 MB of RSS.

const scope = z.enum(SCOPES as [Scope, ...Scope[]]);
const scopes = z.array(scope).refine((list) => new Set(list).size === list.length, "lists a scope twice");
const id = z.number().int().min(0).max(0xffffffff);
const tokenHash = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be "sha256:" and 64 lowercase hex digits (sha256sum of the token)');
const certificate = z
  .string()
  .regex(/^([A-Za-z]+=.+|(DNS|URI|email|IP Address):.+)$/, 'must be a subject attribute ("CN=name") or a subjectAltName ("DNS:host", "URI:spiffe://…", "email:…", "IP Address:…")');
const absolute = z.string().refine((value) => path.isAbsolute(value) && path.posix.normalize(value) === value, "must be an absolute, normalized path");

const targets = z
  .object({
    "cgroup-prefixes": z.array(absolute).min(1).optional(),
    "user-namespaces": z.array(z.number().int().positive()).min(1).optional(),
  })
  .strict();

const identity = z
  .object({
    name: z.string().min(1).max(128),
    scopes,
    tokens: z.array(tokenHash).optional(),
    certificates: z.array(certificate).optional(),
    "unix-uids": z.array(id).optional(),
    "unix-gids": z.array(id).optional(),
    targets: targets.optional(),
  })
  .strict()
  .refine((value) => [value.tokens, value.certificates, value["unix-uids"], value["unix-gids"]].some((list) => list && list.length > 0), {
    message: "needs at least one of tokens, certificates, unix-uids, unix-gids",
  });

const policySchema = z
  .object({
    "unix-owner-scopes": scopes.optional(),
    identities: z.array(identity).default([]),
  })
  .strict()
  .superRefine((value, ctx) => {
    const seen = new Map<string, string>();
    value.identities.forEach((entry, index) => {
      const claims = [`name ${entry.name}`, ...(entry.tokens ?? []).map((token) => `token ${token}`)];
      for (const claim of claims) {
        const other = seen.get(claim);
        if (other !== undefined) ctx.addIssue({ code: "custom", path: ["identities", index], message: `${claim} is already used by identity ${other}` });
        seen.set(claim, entry.name);
      }
    });
  });

/** Validates a parsed policy document; errors name the file and the key path. */
export function parsePolicy(document: unknown, source: string): Policy {
  const result = policySchema.safeParse(document ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.length > 0 ? issue.path.join(".") : "(top level)"}: ${issue.message}`);
    throw new Error(`invalid policy ${source}:\n${lines.join("\n")}`);
  }
  const value = result.data;
  return {
    unixOwnerScopes: new Set(value["unix-owner-scopes"] ?? SCOPES),
    identities: value.identities.map((entry) => ({
      name: entry.name,
      scopes: new Set(entry.scopes),
      tokenHashes: entry.tokens ?? [],
      certificates: entry.certificates ?? [],
      unixUids: entry["unix-uids"] ?? [],
      unixGids: entry["unix-gids"] ?? [],
      ...(entry.targets
        ? { targets: { cgroupPrefixes: entry.targets["cgroup-prefixes"], userNamespaces: entry.targets["user-namespaces"] } }
        : {}),
    })),
  };
}

/** Reads and validates a policy file: JSON for *.json, YAML otherwise (YAML also reads JSON). */
export function loadPolicy(file: string): Policy {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read policy ${file}: ${(err as Error).message}`);
  }
  let document: unknown;
  try {
    document = file.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new Error(`invalid policy ${file}: ${(err as Error).message}`);
  }
  return parsePolicy(document, file);
}
