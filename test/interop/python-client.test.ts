import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { spawnDaemon } from "../helpers/daemon-process";
import type { DaemonProcess } from "../helpers/daemon-process";
import { describeRoot } from "../helpers/privileged";
import { childrenOf, nsInode } from "../helpers/proc";
import { hasProtoc, pythonWithGrpc } from "../helpers/python-grpc";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";

const ROOT = path.join(__dirname, "..", "..");
const SCRIPT = path.join(__dirname, "python", "client_checks.py");
const NS_NAMES = ["user", "cgroup", "ipc", "net", "mnt", "pid", "time", "uts"];

/** What client_checks.py prints (64-bit ids as decimal strings). */
interface Failure {
  code: string;
  domain: string | null;
  reason: string | null;
  message: string;
}
interface Report {
  pid: number;
  own: Record<string, string>;
  target_net: string;
  target_row: { pid: number; process_count: number; command: string };
  unshared: Record<string, string>;
  exec: { pid: number; echoed_bytes: number };
  exec_signal: number;
  tty: { size: string; resized: string; exit: number; stderr_chunks: number };
  closed: Failure;
  errors: Record<string, Failure>;
}

const python = pythonWithGrpc();
const missing = python === null ? "no python3 that imports grpc and google.protobuf" : hasProtoc() ? null : "no protoc on PATH";

/** Without Python's grpc or protoc the suite is skipped visibly, and under CI (CI=true) it fails. */
const describeInterop: jest.Describe =
  missing === null
    ? describeRoot
    : process.env.CI
      ? (((name: string) =>
          describe(name, () => {
            it("has python3-grpcio, python3-protobuf and protobuf-compiler (CI)", () => {
              throw new Error(`${missing}: .ci/run installs python3-grpcio python3-protobuf protobuf-compiler`);
            });
          })) as unknown as jest.Describe)
      : (((name: string, body: () => void) => describe.skip(`${name} (skipped: ${missing})`, body)) as unknown as jest.Describe);

/** The namespace links ("net:[4026532…]") among the fds a process holds. */
function heldNamespaces(pid: number): string[] {
  const links: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (/^\w+:\[\d+\]$/.test(link)) links.push(link);
    } catch {
      // closed meanwhile
    }
  }
  return links;
}

describeInterop("a Python client built from proto/ (grpcio, protoc --python_out)", () => {
  let dir: string;
  let daemon: DaemonProcess;
  let target: Target;
  let report: Report;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-interop-"));
    daemon = spawnDaemon(["--listen", `unix:${path.join(dir, "lxnsd.sock")}`]);
    const [address] = await daemon.ready;
    target = await startTarget(["unshare", "--net"]);
    const { stdout } = await promisify(execFile)(python!, [SCRIPT, address, path.join(ROOT, "proto"), String(target.pid)], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 25_000, // killed before jest's 30 s hook timeout, so a hung client is not left behind
    });
    report = JSON.parse(stdout) as Report;
  });

  afterAll(async () => {
    await target?.kill();
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("saw our own namespaces, as /proc shows them to node, through Inspect and ListNamespaces", () => {
    // The script is our child: same namespaces, and it checked Inspect and ListNamespaces(pid) against its own /proc/self/ns.
    for (const name of NS_NAMES) expect(report.own[name]).toBe(String(nsInode("self", name)));
  });

  it("saw the target's net namespace by path, and its row in ListNamespaces", () => {
    expect(report.target_net).toBe(String(nsInode(target.pid, "net")));
    expect(report.target_row).toEqual({ pid: target.pid, process_count: 1, command: "sleep 1000" });
  });

  it("made new net and uts namespaces with Unshare and released them with Close", () => {
    expect(Object.keys(report.unshared).sort()).toEqual(["net", "uts"]);
    for (const [name, id] of Object.entries(report.unshared)) expect(id).not.toBe(String(nsInode("self", name)));
    const held = heldNamespaces(daemon.proc.pid!);
    expect(held).not.toContain(`net:[${report.unshared.net}]`);
    expect(held).not.toContain(`uts:[${report.unshared.uts}]`);
    expect(report.closed).toMatchObject({ code: "FAILED_PRECONDITION", domain: "lxnsd", reason: "HANDLE_CLOSED" });
  });

  it("opened a tty session: the prompt, stty size as asked, a resize followed, exit 5, stdout chunks only", () => {
    expect(report.tty).toEqual({ size: "25 90", resized: "50 132", exit: 5, stderr_chunks: 0 });
  });

  it("streamed 1 MiB through cat with Exec and signalled a program; nothing is left running", () => {
    expect(report.exec.echoed_bytes).toBe(1 << 20);
    expect(report.exec_signal).toBe(15);
    expect(childrenOf(daemon.proc.pid!)).toEqual([]);
  });

  it("got the documented status codes, each with an lxnsd ErrorInfo", () => {
    const codes = Object.fromEntries(Object.entries(report.errors).map(([name, f]) => [name, [f.code, f.domain, f.reason]]));
    expect(codes).toEqual({
      no_such_pid: ["NOT_FOUND", "lxnsd", "ESRCH"], // pidfd_open, before anything is read about it
      missing_type: ["INVALID_ARGUMENT", "lxnsd", "INVALID_ARGUMENT"],
      unknown_handle: ["NOT_FOUND", "lxnsd", "HANDLE_UNKNOWN"],
      no_such_program: ["NOT_FOUND", "lxnsd", "ENOENT"],
      empty_argv: ["INVALID_ARGUMENT", "lxnsd", "INVALID_ARGUMENT"],
    });
    expect(report.errors.no_such_program.message).toMatch(/execve/);
  });
});
