import { randomBytes } from "node:crypto";
import { readdirSync, readlinkSync, statSync } from "node:fs";
import { NamespaceType, createClient, status } from "../../client";
import type { ExecSession, LxnsdClient } from "../../client";
import { makeCgroup } from "../helpers/cgroup";
import { newToken, tokenHash, writePolicy } from "../helpers/policy";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { fdHoldings, waitForNoNewHoldings } from "../helpers/fd-holdings";
import { describeRoot } from "../helpers/privileged";
import { childrenOf, processState, readOrNull, waitFor } from "../helpers/proc";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";
import { processesWith, runMarker } from "../reliability/support/markers";

const PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const PROMPT = "tty-test$ ";

/** A tty session's output as text, as it arrives, and a way to wait for what should come. */
class Screen {
  text = "";
  private readonly done: Promise<void>;

  constructor(readonly session: ExecSession) {
    this.done = (async () => {
      for await (const chunk of session.output) {
        expect(chunk.stream).toBe("stdout");
        this.text += Buffer.from(chunk.data).toString("latin1");
      }
    })();
    this.done.catch(() => {});
  }

  /** Resolves with the match once `pattern` matches the output after `from`. */
  async waitFor(pattern: RegExp, from = 0, timeoutMs = 5000): Promise<RegExpMatchArray> {
    let match: RegExpMatchArray | null = null;
    await waitFor(() => (match = this.text.slice(from).match(pattern)) !== null, timeoutMs, `${pattern} in ${JSON.stringify(this.text.slice(from).slice(-400))}`);
    return match!;
  }

  /** Types `line` and resolves with the output that follows, up to the next prompt. */
  async command(line: string): Promise<string> {
    const from = this.text.length;
    await this.session.write(`${line}\n`);
    const match = await this.waitFor(new RegExp(`([^]*)${escape(PROMPT)}$`), from);
    return match[1];
  }

  ended(): Promise<void> {
    return this.done;
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\$]/g, "\\$&");
}

/** The commands (comm) of the processes in the session of `leader`, from /proc. */
function sessionCommands(leader: number): string[] {
  const commands: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readOrNull(`/proc/${entry}/stat`);
    const fields = stat?.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (!fields || fields[0] === "Z" || Number(fields[3]) !== leader) continue;  // a zombie is over
    commands.push((readOrNull(`/proc/${entry}/comm`) ?? "").trim());
  }
  return commands.sort();
}

describeRoot("Exec with a terminal (spec.tty)", () => {
  let lxnsd: TestDaemon;
  let target: Target;

  beforeAll(async () => {
    lxnsd = await startDaemon();
    // A target with a mount namespace and a devpts instance of its own, as a container has.
    target = await startTarget([
      "unshare",
      "-m",
      "--propagation",
      "private",
      "sh",
      "-c",
      'mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts && exec "$0" "$@"',
    ]);
  });
  afterAll(async () => {
    await target?.kill();
    await lxnsd?.stop();
  });

  const mnt = () => ({ type: NamespaceType.MNT, source: { case: "pid" as const, value: target.pid } });

  /** An interactive sh on a 30x100 terminal in the target's mount namespace, at its first prompt. */
  async function shell(): Promise<{ screen: Screen; pid: number }> {
    const session = lxnsd.client.exec({
      join: [mnt()],
      argv: ["sh", "-i"],
      env: [PATH, `PS1=${PROMPT}`, "HOME=/"],
      tty: true,
      terminalSize: { rows: 30, cols: 100 },
    });
    const screen = new Screen(session);
    const pid = await session.started;
    await screen.waitFor(new RegExp(`${escape(PROMPT)}$`));
    return { screen, pid };
  }

  async function exit(screen: Screen, code = 0): Promise<void> {
    await screen.session.write(`exit ${code}\n`);
    expect(await screen.session.wait()).toEqual({ code });
    await screen.ended();
  }

  it("gives an interactive sh its prompt, a terminal from the target's own devpts, TERM=xterm and the size asked for", async () => {
    const { screen, pid } = await shell();
    const tty = (await screen.command("tty")).trim().split(/\r?\n/).pop()!;
    expect(tty).toMatch(/^\/dev\/pts\/\d+$/);
    // The slave is a file of the target's devpts instance (the program's fd 0 is it), not of the daemon's /dev/pts.
    const targetPts = statSync(`/proc/${target.pid}/root/dev/pts`);
    const slave = statSync(`/proc/${target.pid}/root${tty}`);
    expect(slave.isCharacterDevice()).toBe(true);
    expect(slave.dev).toBe(targetPts.dev);
    expect(statSync(`/proc/${pid}/fd/0`).rdev).toBe(slave.rdev);
    expect(targetPts.dev).not.toBe(statSync("/dev/pts").dev);
    expect(readlinkSync(`/proc/${pid}/fd/1`)).toBe(tty);
    expect(await screen.command("echo T=$TERM")).toContain("T=xterm");
    expect(await screen.command("stty size")).toContain("30 100");
    await exit(screen);
  });

  it("follows a resize: stty size shows the new size and a WINCH trap fires", async () => {
    const { screen } = await shell();
    await screen.command("trap 'echo WINCHED' WINCH");
    const from = screen.text.length;
    screen.session.resize(40, 120);
    await screen.session.write("echo after\n");
    await screen.waitFor(/WINCHED[^]*after/, from);
    expect(await screen.command("stty size")).toContain("40 120");
    await exit(screen);
  });

  it("has job control: a background job, jobs, kill %1", async () => {
    const { screen, pid } = await shell();
    const marker = runMarker();
    await screen.command(`sleep ${marker} &`);
    expect(await screen.command("jobs")).toMatch(/\[1\][^\n]*Running[^\n]*sleep/);
    expect(processesWith(marker)).toHaveLength(1);
    await screen.command("kill %1");
    await waitFor(() => processesWith(marker).length === 0, 3000, "the background job to end");
    expect(sessionCommands(pid)).toEqual(["sh"]);
    await exit(screen);
  });

  it("^C typed on the terminal interrupts a foreground sleep, not the shell; signal goes to the foreground job", async () => {
    const { screen, pid } = await shell();
    for (const interrupt of [() => screen.session.write("\x03"), () => screen.session.signal(2)]) {
      const marker = runMarker();
      const from = screen.text.length;
      await screen.session.write(`sleep ${marker}\n`);
      await waitFor(() => processesWith(marker).length === 1, 3000, "the foreground sleep");
      await interrupt();
      await waitFor(() => processesWith(marker).length === 0, 3000, "the sleep to be interrupted");
      await screen.waitFor(new RegExp(`${escape(PROMPT)}$`), from);
      expect(processState(pid)).not.toBeNull();
      expect(await screen.command("echo alive")).toContain("alive");
    }
    await exit(screen);
  });

  it("delivers 5 MiB of output whole, then the exit status (the master is read to EIO after the exit)", async () => {
    const session = lxnsd.client.exec({ join: [mnt()], argv: ["sh", "-c", "head -c 5242880 /dev/zero | tr '\\0' x; printf END; exit 7"], tty: true });
    const screen = new Screen(session);
    expect(await session.wait()).toEqual({ code: 7 });
    await screen.ended();
    expect(screen.text.length).toBe(5242880 + 3);
    expect(screen.text.endsWith("END")).toBe(true);
    expect(/^x*END$/.test(screen.text)).toBe(true);
  });

  it("exit 7 gives 7; close_stdin types EOF, which ends sh", async () => {
    const first = await shell();
    await exit(first.screen, 7);
    const second = await shell();
    second.screen.session.closeStdin();
    expect(await second.screen.session.wait()).toEqual({ code: 0 });
  });

  it("works when the program is a process of its own (a new pid namespace: the child clones it) and as the daemon's own child (no joins)", async () => {
    for (const spec of [
      { join: [mnt()], unshare: [NamespaceType.PID], argv: ["sh", "-c", 'echo "pid=$$ $(tty)"'] },
      { argv: ["sh", "-c", 'echo "pid=$$ $(tty)"'] },
    ]) {
      const session = lxnsd.client.exec({ ...spec, tty: true, terminalSize: { rows: 5, cols: 6 } });
      const screen = new Screen(session);
      const pid = await session.started;
      expect(await session.wait()).toEqual({ code: 0 });
      await screen.ended();
      const expected = spec.unshare ? "pid=1 " : `pid=${pid} `;
      expect(screen.text).toMatch(new RegExp(`^${expected}/dev/pts/\\d+\r\n$`));
    }
  });

  it("with uid and gid the slave belongs to them, and the program runs as them", async () => {
    const session = lxnsd.client.exec({ join: [mnt()], argv: ["sh", "-c", 'stat -c "%u:%g" "$(tty)"; id -u'], tty: true, uid: 65534, gid: 65534 });
    const screen = new Screen(session);
    expect(await session.wait()).toEqual({ code: 0 });
    await screen.ended();
    expect(screen.text.split(/\r?\n/).filter(Boolean)).toEqual(["65534:65534", "65534"]);
  });

  it("refuses Run with tty, terminal_size without tty, resize without tty: INVALID_ARGUMENT, nothing started", async () => {
    const marker = runMarker();
    await expect(lxnsd.client.run({ argv: ["sleep", marker], tty: true })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(lxnsd.client.exec({ argv: ["sleep", marker], terminalSize: { rows: 1, cols: 1 } }).wait()).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(lxnsd.client.exec({ argv: ["sleep", marker], tty: true, terminalSize: { rows: 70000, cols: 1 } }).wait()).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
    });
    expect(processesWith(marker)).toEqual([]);
    const cat = lxnsd.client.exec({ argv: ["cat"] });
    await cat.started;
    cat.resize(10, 10);
    await expect(cat.wait()).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it("a program that cannot start after its terminal was opened (cwd, execve) fails with the step's status and leaves no pty", async () => {
    const ptysBefore = ptyHoldings();
    await expect(lxnsd.client.exec({ join: [mnt()], argv: ["true"], cwd: "/no/such/dir", tty: true }).wait()).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(lxnsd.client.exec({ join: [mnt()], argv: ["/no/such/program"], tty: true }).wait()).rejects.toMatchObject({ code: status.NOT_FOUND });
    expect(ptyHoldings()).toBe(ptysBefore);
    const slaves = () => readdirSync(`/proc/${target.pid}/root/dev/pts`).filter((name) => name !== "ptmx");
    await waitFor(() => slaves().length === 0, 3000, "the target's devpts to have no pty left");
  });

  it("cancel ends the whole session: no program, child, pty or fd is left", async () => {
    const before = fdHoldings();
    const childrenBefore = childrenOf().length;
    const ptysBefore = ptyHoldings();
    for (let i = 0; i < 5; i++) {
      const marker = runMarker();
      const { screen } = await shell();
      await screen.command(`sleep ${marker} &`);
      await screen.session.write(`sleep ${marker}\n`);
      await waitFor(() => processesWith(marker).length === 2, 3000, "both sleeps");
      screen.session.cancel();
      await expect(screen.session.wait()).rejects.toMatchObject({ code: status.CANCELLED });
      await waitFor(() => processesWith(marker).length === 0, 3000, "every process of the session to end");
    }
    await waitForNoNewHoldings(before);
    await waitFor(() => ptyHoldings() === ptysBefore, 3000, "the pty masters to be closed");
    await waitFor(() => childrenOf().length === childrenBefore, 3000, "every child to be reaped");
    // The kernel frees a pty (and its /dev/pts entry) once both sides are closed, in a work item of its own.
    const slaves = () => readdirSync(`/proc/${target.pid}/root/dev/pts`).filter((name) => name !== "ptmx");
    await waitFor(() => slaves().length === 0, 3000, "the target's devpts to have no pty left");
  });
});

/** How many pty masters this process holds. */
function ptyHoldings(): number {
  return [...fdHoldingsAll()].filter((link) => /ptmx$/.test(link)).length;
}

function fdHoldingsAll(): string[] {
  const links: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      links.push(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // closed meanwhile
    }
  }
  return links;
}

describeRoot("Exec with a terminal for an identity with target rules", () => {
  const token = newToken();
  let cgroup: ReturnType<typeof makeCgroup>;
  let lxnsd: TestDaemon;
  let client: LxnsdClient;
  /** A container-like target: uid 65534, no capabilities, no_new_privs, its own mount namespace and devpts. */
  let nobody: Target;

  beforeAll(async () => {
    cgroup = makeCgroup(`tty-${randomBytes(4).toString("hex")}`);
    nobody = await startTarget([
      "unshare",
      "-m",
      "--propagation",
      "private",
      "sh",
      "-c",
      'mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts && exec setpriv --reuid 65534 --regid 65534 --clear-groups --bounding-set=-all --no-new-privs "$0" "$@"',
    ]);
    cgroup.add(nobody.pid);
    const policy = writePolicy({ identities: [{ name: "pods", scopes: ["exec"], tokens: [tokenHash(token)], targets: { "cgroup-prefixes": [cgroup.path] } }] });
    lxnsd = await startDaemon({ policyFile: policy });
    client = createClient(lxnsd.address, { token });
  });
  afterAll(async () => {
    client?.disconnect();
    await nobody?.kill();
    await lxnsd?.stop();
    cgroup?.remove();
  });

  it("opens the terminal as the target: from its devpts, the slave its own, the program its uid", async () => {
    const session = client.exec({
      join: [{ type: NamespaceType.MNT, source: { case: "pid", value: nobody.pid } }],
      argv: ["sh", "-c", 'id -u; tty; stat -c %u "$(tty)"'],
      tty: true,
    });
    const screen = new Screen(session);
    expect(await session.wait()).toEqual({ code: 0 });
    await screen.ended();
    const [uid, tty, owner] = screen.text.split("\r\n");
    expect(uid).toBe("65534");
    expect(tty).toMatch(/^\/dev\/pts\/\d+$/);
    expect(owner).toBe("65534");
  });
});

