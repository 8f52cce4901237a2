// native files.openRead: a read's open, fstat and first block in one
// operation on one thread, from a root fd or a root path it opens itself.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

import * as native from "../../native/lib";
import { describeRoot } from "../helpers/privileged";
import { countFds } from "../helpers/proc";

const O_NONBLOCK = 0o4000;
const O_DIRECTORY = 0o200000;
const O_PATH = 0o10000000;

describeRoot("native files.openRead", () => {
  let dir: string;
  let rootFd: number;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-openread-"));
    writeFileSync(path.join(dir, "small"), "0123456789");
    mkdirSync(path.join(dir, "sub"));
    symlinkSync("/small", path.join(dir, "abs-link"));
    rootFd = native.openPath(dir);
  });
  afterAll(() => {
    native.close(rootFd);
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads a small file whole and closes it at its end, from a root fd or a root path", async () => {
    const fds = countFds();
    for (const from of [{ fd: rootFd }, { root: dir }]) {
      const buffer = Buffer.alloc(64);
      const got = await native.files.openRead(from, "/small", O_NONBLOCK, buffer, 2n);
      expect(got).toMatchObject({ fd: -1, bytes: 8, eof: true, size: 10n });
      expect(buffer.subarray(0, 8).toString()).toBe("23456789");
    }
    // RESOLVE_IN_ROOT: an absolute symlink resolves inside the root.
    const linked = await native.files.openRead({ root: dir }, "/abs-link", O_NONBLOCK, Buffer.alloc(16), 0n);
    expect(linked).toMatchObject({ fd: -1, bytes: 10, eof: true });
    expect(countFds()).toBe(fds);
  });

  it("leaves the fd open when the buffer filled before the end, unless told to close it", async () => {
    const fds = countFds();
    const open = await native.files.openRead({ fd: rootFd }, "/small", O_NONBLOCK, Buffer.alloc(4), 0n);
    expect(open).toMatchObject({ bytes: 4, eof: false });
    expect(open.fd).toBeGreaterThanOrEqual(0);
    expect(countFds()).toBe(fds + 1);
    await native.files.close(open.fd);
    const closed = await native.files.openRead({ fd: rootFd }, "/small", O_NONBLOCK, Buffer.alloc(4), 0n, { closeWhenFull: true });
    expect(closed).toMatchObject({ fd: -1, bytes: 4, eof: false });
    expect(countFds()).toBe(fds);
  });

  it("closes what is not a regular file and reads nothing of it; fails naming the step, leaving nothing open", async () => {
    const fds = countFds();
    const st = await native.files.openRead({ fd: rootFd }, "/sub", O_NONBLOCK, Buffer.alloc(16), 0n);
    expect(st).toMatchObject({ fd: -1, bytes: 0, eof: false });
    expect(st.mode & 0o170000).toBe(0o040000);
    await expect(native.files.openRead({ fd: rootFd }, "/missing", O_NONBLOCK, Buffer.alloc(16), 0n)).rejects.toMatchObject({ code: "ENOENT", syscall: "openat2" });
    await expect(native.files.openRead({ root: path.join(dir, "gone") }, "/small", O_NONBLOCK, Buffer.alloc(16), 0n)).rejects.toMatchObject({ code: "ENOENT", syscall: "open", message: expect.stringContaining(path.join(dir, "gone")) });
    await expect(native.files.openRead({ root: path.join(dir, "small") }, "/small", O_NONBLOCK, Buffer.alloc(16), 0n)).rejects.toMatchObject({ code: "ENOTDIR", syscall: "open" });
    // An O_PATH fd reads nothing: pread fails EBADF, and the op closes it.
    await expect(native.files.openRead({ fd: rootFd }, "/small", O_PATH, Buffer.alloc(16), 0n)).rejects.toMatchObject({ code: "EBADF", syscall: "pread" });
    await expect(native.files.openRead({ fd: rootFd }, "/sub", O_DIRECTORY | 0o1, Buffer.alloc(16), 0n)).rejects.toMatchObject({ code: "EISDIR" });
    expect(countFds()).toBe(fds);
  });
});
