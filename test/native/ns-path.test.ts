import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as native from "../../native/lib";
import { describeRoot } from "../helpers/privileged";
import { countFds, nsInode } from "../helpers/proc";

function nativeError(fn: () => unknown): { code?: string; syscall?: string } {
  try {
    fn();
  } catch (err) {
    return err as { code?: string; syscall?: string };
  }
  throw new Error("did not throw");
}

describeRoot("paths opened without blocking or racing", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-ns-path-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("openNsPath opens nsfs files (magic links followed) with a fd the ns ioctls accept", () => {
    const fd = native.openNsPath("/proc/self/ns/net");
    try {
      expect(native.nsStat(fd).ino).toBe(nsInode("self", "net"));
      native.close(native.nsGetUserns(fd));
    } finally {
      native.close(fd);
    }
  });

  it("openNsPath refuses anything that is not nsfs, at once, leaving no fd: a FIFO without writer, a file, a directory, a symlink with noFollow", () => {
    const fds = countFds();
    const fifo = path.join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    writeFileSync(path.join(dir, "file"), "x");
    symlinkSync("/proc/self/ns/net", path.join(dir, "link"));
    const started = Date.now();
    for (const file of [fifo, path.join(dir, "file"), dir, "/dev/zero"]) expect(nativeError(() => native.openNsPath(file))).toMatchObject({ code: "ENOTTY", syscall: "fstatfs" });
    expect(nativeError(() => native.openNsPath(path.join(dir, "link"), { noFollow: true }))).toMatchObject({ code: "ENOTTY", syscall: "fstatfs" });
    expect(Date.now() - started).toBeLessThan(500);
    expect(nativeError(() => native.openNsPath(path.join(dir, "missing")))).toMatchObject({ code: "ENOENT", syscall: "open" });
    expect(countFds()).toBe(fds);
  });

  it("openBeneath refuses .., symlinks out of the root and magic links; openTreeFd clones what it resolved", () => {
    const root = path.join(dir, "root");
    mkdirSync(path.join(root, "in"), { recursive: true });
    mkdirSync(path.join(dir, "out"));
    symlinkSync("../out", path.join(root, "up"));
    symlinkSync(path.join(dir, "out"), path.join(root, "absolute"));
    symlinkSync("in", path.join(root, "inside"));
    for (const relative of ["../out", "up", "absolute"]) expect(nativeError(() => native.openBeneath(root, relative))).toMatchObject({ code: "EXDEV", syscall: "openat2" });
    expect(nativeError(() => native.openBeneath("/proc/self", "root"))).toMatchObject({ code: "ELOOP", syscall: "openat2" });
    const fd = native.openBeneath(root, "inside");
    try {
      const tree = native.openTreeFd(fd, { readOnly: true });
      native.close(tree);
    } finally {
      native.close(fd);
    }
  });
});
