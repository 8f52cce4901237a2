import { readdirSync, readFileSync, statSync } from "node:fs";

/** The inode of /proc/PID/ns/NAME, as `stat -L -c %i` prints it. */
export function nsInode(pid: number | "self", name: string): bigint {
  return statSync(`/proc/${pid}/ns/${name}`, { bigint: true }).ino;
}

/** The device of /proc/PID/ns/NAME. */
export function nsDevice(pid: number | "self", name: string): bigint {
  return statSync(`/proc/${pid}/ns/${name}`, { bigint: true }).dev;
}

/** How many fds this process has open. */
export function countFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** The path another process (nsenter, stat) can open to reach our fd `fd`. */
export function fdPath(fd: number): string {
  return `/proc/${process.pid}/fd/${fd}`;
}

/** The contents of `path` (a /proc file), or null when it is gone or unreadable. */
export function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** The fields of /proc/PID/stat after "(comm)": [0] is the state, [1] the ppid; null when gone. */
function statFields(pid: number | string): string[] | null {
  const stat = readOrNull(`/proc/${pid}/stat`);
  return stat === null ? null : stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** The state letter of a process (S, R, Z, …), null when /proc/PID is gone. */
export function processState(pid: number): string | null {
  return statFields(pid)?.[0] ?? null;
}

/** Pids whose parent is `pid`, with their state letter (Z = zombie). */
export function childrenOf(pid: number = process.pid): { pid: number; state: string }[] {
  const children: { pid: number; state: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (fields !== null && Number(fields[1]) === pid) children.push({ pid: Number(entry), state: fields[0] });
  }
  return children;
}

/** The value of the line `NAME:` of /proc/PID/status, trimmed; throws when there is none. */
export function statusField(pid: number, name: string): string {
  const m = new RegExp(`^${name}:\\s*(.*)$`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (m === null) throw new Error(`no ${name} in /proc/${pid}/status`);
  return m[1].trim();
}

/** The NSpid line of a process: its pid in each pid namespace, outermost first. */
export function nsPidLine(pid: number): number[] {
  return statusField(pid, "NSpid").split(/\s+/).map(Number);
}

/** Resolves once `check` returns true, polling every `everyMs`, or rejects after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 5000, what = "condition", everyMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** The pid of the first child of `pid` once it has one; rejects after `timeoutMs`. */
export async function waitForChild(pid: number, timeoutMs = 5000): Promise<number> {
  let child = 0;
  await waitFor(() => {
    child = childrenOf(pid)[0]?.pid ?? 0;
    return child !== 0;
  }, timeoutMs, `a child of ${pid}`);
  return child;
}

/** Whether `file` is a mount point in this process's mount namespace (field 5 of /proc/self/mountinfo). */
export function mounted(file: string): boolean {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((line) => line.split(" ")[4] === file);
}

/** This process as a unix peer's credentials name it (SO_PEERCRED and SO_PEERGROUPS): pid, uid, gid and the supplementary groups of /proc/self/status. */
export function selfAsPeer(): { pid: number; uid: number; gid: number; groups: number[] } {
  const line = readFileSync("/proc/self/status", "utf8").split("\n").find((entry) => entry.startsWith("Groups:")) ?? "Groups:";
  const groups = line.slice("Groups:".length).trim().split(/\s+/).filter(Boolean).map(Number);
  return { pid: process.pid, uid: process.getuid!(), gid: process.getgid!(), groups };
}
