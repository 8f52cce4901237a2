import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import * as native from "../../native/lib";
import { isAbsoluteNormalized } from "../rpc/paths";
import { PolicyError } from "./policy";
import type { HeldNamespace, Policy } from "./policy";
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
const absolute = z.string().refine(isAbsoluteNormalized, "must be an absolute, normalized path");

// An inode number is given to the next new namespace once its namespace is freed: a rule must name
// a user namespace by a path the daemon opens at start and holds, so that it cannot be reused.
const userNamespace = z.union([z.number(), z.string()]).superRefine((value, ctx) => {
  if (typeof value === "number") {
    ctx.addIssue({
      code: "custom",
      message: "a number (inode) may name another namespace once this one is freed: name the user namespace by a path the daemon holds from start, e.g. a pin /run/lxnsd/ns/tenant-a or /proc/PID/ns/user",
    });
  } else if (!isAbsoluteNormalized(value)) {
    ctx.addIssue({ code: "custom", message: "must be an absolute, normalized path (a pin or /proc/PID/ns/user)" });
  }
});

const targets = z
  .object({
    "cgroup-prefixes": z.array(absolute).min(1).optional(),
    "user-namespaces": z.array(userNamespace).min(1).optional(),
    "pod-namespaces": z.array(z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a Kubernetes namespace name")).min(1).optional(),
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
    "mount-sources": z.array(absolute).min(1).optional(),
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

/**
 * Validates a parsed policy document and opens the user namespaces its
 * rules name (held until policy.close()); errors name the file and the key path.
 */
export function parsePolicy(document: unknown, source: string): Policy {
  const result = policySchema.safeParse(document ?? {});
  const fail = (lines: string[]) => new PolicyError(`invalid policy ${source}:\n${lines.join("\n")}`);
  if (!result.success) {
    throw fail(result.error.issues.map((issue) => `  ${issue.path.length > 0 ? issue.path.join(".") : "(top level)"}: ${issue.message}`));
  }
  const value = result.data;
  const held = new UserNamespaceHolder();
  const identities = value.identities.map((entry, index) => {
    const userNamespaces = entry.targets?.["user-namespaces"]?.map((file, at) => held.hold(String(file), `identities.${index}.targets.user-namespaces.${at}`));
    const rules = { cgroupPrefixes: entry.targets?.["cgroup-prefixes"], userNamespaces, mountSources: entry["mount-sources"], podNamespaces: entry.targets?.["pod-namespaces"] };
    return {
      name: entry.name,
      scopes: new Set(entry.scopes),
      tokenHashes: entry.tokens ?? [],
      certificates: entry.certificates ?? [],
      unixUids: entry["unix-uids"] ?? [],
      unixGids: entry["unix-gids"] ?? [],
      ...(Object.values(rules).some((rule) => rule !== undefined) ? { targets: rules } : {}),
    };
  });
  if (held.errors.length > 0) {
    held.close();
    throw fail(held.errors);
  }
  return { unixOwnerScopes: new Set(value["unix-owner-scopes"] ?? SCOPES), identities, close: () => held.close() };
}

/** Opens the user namespaces a policy names and keeps their fds, so that their (dev, ino) stay theirs. */
class UserNamespaceHolder {
  readonly errors: string[] = [];
  private readonly fds: number[] = [];

  hold(file: string, key: string): HeldNamespace {
    let fd: number;
    try {
      fd = native.openNsPath(file);
    } catch (err) {
      const reason = (err as { syscall?: string }).syscall === "fstatfs" ? "not a namespace file" : (err as Error).message;
      this.errors.push(`  ${key}: ${file}: ${reason}`);
      return { path: file, dev: -1n, ino: -1n };
    }
    this.fds.push(fd);
    const { dev, ino, nstype } = native.nsStat(fd);
    if (nstype !== native.CLONE_NEWUSER) this.errors.push(`  ${key}: ${file} is not a user namespace`);
    return { path: file, dev, ino };
  }

  close(): void {
    this.fds.splice(0).forEach((fd) => native.close(fd));
  }
}

/** Reads and validates a policy file: JSON for *.json, YAML otherwise (YAML also reads JSON). */
export function loadPolicy(file: string): Policy {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new PolicyError(`cannot read policy ${file}: ${(err as Error).message}`);
  }
  let document: unknown;
  try {
    document = file.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new PolicyError(`invalid policy ${file}: ${(err as Error).message}`);
  }
  return parsePolicy(document, file);
}
