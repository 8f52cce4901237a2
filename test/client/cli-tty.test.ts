import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { CLI_MAIN } from "../helpers/cli-bin";
import { describeRoot } from "../helpers/privileged";
import { childrenOf, waitFor } from "../helpers/proc";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";
import { itUnless } from "../helpers/visible-skip";

/** The compiled CLI (`npm run build`). */
const HAVE_TMUX = spawnSync("tmux", ["-V"]).status === 0;
const HOST_PROMPT = "host$ ";
const INNER_PROMPT = "inner$ ";

/** A tmux server of its own (its own socket) with one window of a fixed size running a host sh. */
class Tmux {
  private readonly dir = mkdtempSync(path.join(tmpdir(), "lxnsd-tmux-"));
  private readonly socket = path.join(this.dir, "sock");
  private commands = 0;

  start(): void {
    this.tmux("-f", "/dev/null", "new-session", "-d", "-x", "100", "-y", "30", "-s", "t", "env", `PS1=${HOST_PROMPT}`, "sh");
    this.tmux("set-option", "-g", "status", "off");
  }

  tmux(...args: string[]): string {
    return execFileSync("tmux", ["-S", this.socket, ...args], { encoding: "utf8" });
  }

  /** Types `text` and Enter. */
  type(text: string): void {
    this.tmux("send-keys", "-t", "t", "-l", text);
    this.tmux("send-keys", "-t", "t", "Enter");
  }

  screen(): string {
    return this.tmux("capture-pane", "-p", "-J", "-t", "t");
  }

  /** Waits until the last non-empty line of the screen ends with `prompt`; returns the screen. */
  async waitForPrompt(prompt: string, timeoutMs = 10000): Promise<string> {
    let screen = "";
    await waitFor(
      () => {
        screen = this.screen();
        const lines = screen.split("\n").filter((line) => line.trim() !== "");
        return lines.length > 0 && lines[lines.length - 1].trimEnd().endsWith(prompt.trimEnd());
      },
      timeoutMs,
      `prompt ${JSON.stringify(prompt)} on the screen:\n${screen}`,
      50,
    );
    return screen;
  }

  /** Types `line` (after a clear, between two marker lines) and returns the lines it printed. */
  async command(line: string): Promise<string[]> {
    const id = ++this.commands;
    this.type(`s=$?; clear; echo BEGIN-${id}; ${line}; echo END-${id}`); // $s: the status of what ran before
    let lines: string[] = [];
    await waitFor(
      () => {
        lines = this.screen().split("\n").map((l) => l.trimEnd());
        return lines.includes(`END-${id}`);
      },
      10000,
      `the output of ${line}`,
      50,
    );
    return lines.slice(lines.indexOf(`BEGIN-${id}`) + 1, lines.indexOf(`END-${id}`));
  }

  panePid(): number {
    return Number(this.tmux("display-message", "-p", "-t", "t", "#{pane_pid}").trim());
  }

  paneSize(): string {
    return this.tmux("display-message", "-p", "-t", "t", "#{pane_height} #{pane_width}").trim();
  }

  stop(): void {
    spawnSync("tmux", ["-S", this.socket, "kill-server"]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describeRoot("lxnsctl exec in a real terminal (tmux)", () => {
  let lxnsd: TestDaemon;
  let target: Target;
  let tmux: Tmux;

  beforeAll(async () => {
    lxnsd = await startDaemon();
    target = await startTarget(["unshare", "-m", "--propagation", "private", "sh", "-c", 'mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts && exec "$0" "$@"']);
  });
  afterAll(async () => {
    await target?.kill();
    await lxnsd?.stop();
  });
  beforeEach(() => {
    if (!HAVE_TMUX) return;
    tmux = new Tmux();
    tmux.start();
  });
  afterEach(() => tmux?.stop());

  const lxnsctl = () => `${process.execPath} ${CLI_MAIN} --address ${lxnsd.address} exec -t ${target.pid} -a --env 'PS1=${INNER_PROMPT}' -- sh`;

  /** The terminal settings of the pane, as the host sh sees them after lxnsctl: cooked (icanon, echo). */
  async function expectCooked(): Promise<void> {
    const settings = (await tmux.command("stty -a")).join(" ");
    expect(settings).toMatch(/(^|\s)icanon(\s|$)/);
    expect(settings).toMatch(/(^|\s)echo(\s|$)/);
  }

  itUnless(HAVE_TMUX, "tmux is not installed (apt-get install tmux)")(
    "exec -t PID -a -- sh: a prompt from the target, its size, resize-window followed, exit status, cooked mode after",
    async () => {
      await tmux.waitForPrompt(HOST_PROMPT);
      tmux.type(lxnsctl());
      await tmux.waitForPrompt(INNER_PROMPT);
      // The shell's terminal is one of the target's devpts, not lxnsctl's own.
      const ttyName = (await tmux.command("tty")).join("");
      expect(ttyName).toMatch(/^\/dev\/pts\/\d+$/);
      expect(statSync(`/proc/${target.pid}/root${ttyName}`).dev).toBe(statSync(`/proc/${target.pid}/root/dev/pts`).dev);
      expect(await tmux.command("stty size")).toEqual([tmux.paneSize()]);
      tmux.tmux("resize-window", "-t", "t", "-x", "120", "-y", "40");
      await waitFor(() => tmux.paneSize() === "40 120", 5000, "the pane to be 40x120");
      await waitFor(
        () => {
          tmux.type("stty size");
          return tmux.screen().includes("40 120");
        },
        5000,
        "stty size to show 40 120",
        300,
      );
      tmux.type("exit 7");
      await tmux.waitForPrompt(HOST_PROMPT);
      expect(await tmux.command("echo status=$s")).toEqual(["status=7"]);
      await expectCooked();
    },
    60000,
  );

  itUnless(HAVE_TMUX, "tmux is not installed (apt-get install tmux)")(
    "SIGTERM to lxnsctl mid-session ends it (128+15) and leaves the terminal in cooked mode, the program killed",
    async () => {
      await tmux.waitForPrompt(HOST_PROMPT);
      const programsBefore = childrenOf().length; // the in-process daemon's programs are this process's children
      tmux.type(lxnsctl());
      await tmux.waitForPrompt(INNER_PROMPT);
      expect(childrenOf().length).toBe(programsBefore + 1);
      const cli = childrenOf(tmux.panePid()).map((child) => child.pid);
      expect(cli).toHaveLength(1);
      process.kill(cli[0], "SIGTERM");
      await tmux.waitForPrompt(HOST_PROMPT);
      expect(await tmux.command("echo status=$s")).toEqual(["status=143"]);
      await expectCooked();
      await waitFor(() => childrenOf().length === programsBefore, 5000, "the daemon to kill the program of the dropped call");
    },
    60000,
  );
});
