import { existsSync } from "node:fs";
import * as path from "node:path";

/** The CRI sockets lxnsd tries when --cri-endpoint is not given, in order: containerd's, then CRI-O's. */
export const DEFAULT_CRI_ENDPOINTS = ["unix:///run/containerd/containerd.sock", "unix:///var/run/crio/crio.sock"];

/** The socket path of a `unix:///PATH` endpoint. */
export function criSocketPath(endpoint: string): string {
  return endpoint.replace(/^unix:\/\//, "");
}

/** The first of {@link DEFAULT_CRI_ENDPOINTS} whose socket exists (looked at once, at start), else "" (no runtime). */
export function defaultCriEndpoint(exists: (file: string) => boolean = existsSync): string {
  return DEFAULT_CRI_ENDPOINTS.find((endpoint) => exists(criSocketPath(endpoint))) ?? "";
}

/**
 * A --cri-endpoint value in the one form the daemon uses, `unix:///PATH`; ""
 * stays "" (no runtime). Takes `unix:///PATH`, `unix:PATH` and a bare
 * absolute PATH (as crictl does); throws an Error saying what is wrong otherwise.
 */
export function parseCriEndpoint(value: string): string {
  if (value === "") return "";
  const file = value.startsWith("unix://") ? value.slice("unix://".length) : value.startsWith("unix:") ? value.slice("unix:".length) : value;
  if (value.includes("\0") || !path.posix.isAbsolute(file) || path.posix.normalize(file) !== file) {
    throw new Error('must be unix:///PATH with PATH an absolute, normalized socket path, or "" (no container runtime)');
  }
  return `unix://${file}`;
}
