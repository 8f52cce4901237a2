import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";

/** Debian's busybox-static: one static binary, so an image needs nothing else. */
export const BUSYBOX_STATIC = "/bin/busybox";

/** The applets the test images link to busybox (what the tests run in containers). */
const APPLETS = ["sh", "sleep", "hostname", "cat", "true", "false", "echo", "ls", "id", "ps", "readlink", "wc"];

/** Why /bin/busybox cannot build an image ("" = it can): missing, or linked dynamically (busybox rather than busybox-static). */
export function busyboxStaticProblem(): string {
  let elf: Buffer;
  try {
    elf = readFileSync(BUSYBOX_STATIC);
  } catch {
    return `${BUSYBOX_STATIC} is missing (apt-get install busybox-static)`;
  }
  return hasInterpreter(elf) ? `${BUSYBOX_STATIC} is linked dynamically (apt-get install busybox-static)` : "";
}

/** Whether a 64-bit little-endian ELF file asks for a program interpreter (PT_INTERP): dynamically linked. */
function hasInterpreter(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) return true;
  const phoff = Number(elf.readBigUInt64LE(32));
  const phentsize = elf.readUInt16LE(54);
  const phnum = elf.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > elf.length || elf.readUInt32LE(at) === 3) return true;
  }
  return false;
}

/** The OCI architecture of this machine. */
function ociArchitecture(): string {
  return ({ x64: "amd64", arm64: "arm64" } as Record<string, string>)[process.arch] ?? process.arch;
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Writes a blob into the layout's blobs/sha256 and returns its descriptor fields. */
function blob(layout: string, bytes: Buffer): { digest: string; size: number } {
  const digest = sha256(bytes);
  writeFileSync(path.join(layout, "blobs", "sha256", digest.slice("sha256:".length)), bytes);
  return { digest, size: bytes.length };
}

/**
 * Builds, under `work`, an OCI image layout tar of a one-layer image holding
 * busybox-static and links to its applets in /bin, whose entrypoint is
 * `entrypoint`, named `name` (the `io.containerd.image.name` annotation
 * `ctr images import` reads). Returns the tar's path. No registry, nothing
 * downloaded.
 */
export function buildBusyboxImage(work: string, name: string, entrypoint: string[]): string {
  const rootfs = path.join(work, "rootfs");
  mkdirSync(path.join(rootfs, "bin"), { recursive: true });
  for (const dir of ["proc", "sys", "dev", "etc", "tmp", "root"]) mkdirSync(path.join(rootfs, dir), { recursive: true });
  copyFileSync(BUSYBOX_STATIC, path.join(rootfs, "bin", "busybox"));
  for (const applet of APPLETS) symlinkSync("busybox", path.join(rootfs, "bin", applet));
  writeFileSync(path.join(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  writeFileSync(path.join(rootfs, "etc", "group"), "root:x:0:\n");
  const layerTar = path.join(work, "layer.tar");
  execFileSync("tar", ["--numeric-owner", "--owner=0", "--group=0", "-C", rootfs, "-cf", layerTar, "."]);

  const layout = path.join(work, "layout");
  mkdirSync(path.join(layout, "blobs", "sha256"), { recursive: true });
  const layer = blob(layout, readFileSync(layerTar));
  const config = blob(
    layout,
    Buffer.from(
      JSON.stringify({
        architecture: ociArchitecture(),
        os: "linux",
        config: { Entrypoint: entrypoint, Env: ["PATH=/bin"], WorkingDir: "/" },
        rootfs: { type: "layers", diff_ids: [layer.digest] },
      }),
    ),
  );
  const manifest = blob(
    layout,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
      }),
    ),
  );
  writeFileSync(path.join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    path.join(layout, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest, annotations: { "io.containerd.image.name": name } }],
    }),
  );
  const imageTar = path.join(work, "image.tar");
  execFileSync("tar", ["--numeric-owner", "--owner=0", "--group=0", "-C", layout, "-cf", imageTar, "."]);
  return imageTar;
}
