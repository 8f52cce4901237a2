import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { CliIo } from "../../client/cli/main";
import { captureCli } from "../helpers/cli";
import { ContainerCgroups, randomContainerId, randomPodUid } from "../helpers/container-cgroups";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { nsInode } from "../helpers/proc";
import { startTarget } from "../helpers/targets";
import type { Target } from "../helpers/targets";

describeRoot("lxnsctl: containers and pods as targets, ps, ls", () => {
  let lxnsd: TestDaemon;
  let cgroups: ContainerCgroups;
  let logs: string;
  const targets: Target[] = [];
  const uid = randomPodUid();
  const ids = { sandbox: randomContainerId(), app: randomContainerId() };
  const pids: Record<string, number> = {};
  const podName = `web-${uid.slice(0, 6)}`;
  const cli = (argv: string[], io: Partial<CliIo> = {}) => captureCli(["--address", lxnsd.address, ...argv], io);

  beforeAll(async () => {
    logs = mkdtempSync(path.join(tmpdir(), "lxnsd-pod-logs-"));
    cgroups = new ContainerCgroups();
    for (const which of ["sandbox", "app"] as const) {
      const target = await startTarget(["unshare", "--net", "--uts"]);
      targets.push(target);
      execFileSync("nsenter", ["-t", String(target.pid), "-u", "hostname", `${which}-host`]);
      cgroups.add(cgroups.make(`kubepods.slice/kubepods-pod${uid.replace(/-/g, "_")}.slice/cri-containerd-${ids[which]}.scope`), target.pid);
      pids[which] = target.pid;
    }
    const podDir = path.join(logs, "pods", `shop_${podName}_${uid}`);
    mkdirSync(path.join(podDir, "app"), { recursive: true });
    writeFileSync(path.join(podDir, "app", "0.log"), "");
    mkdirSync(path.join(logs, "containers"));
    symlinkSync(path.join(podDir, "app", "0.log"), path.join(logs, "containers", `${podName}_shop_app-${ids.app}.log`));
    lxnsd = await startDaemon({ podLogDir: path.join(logs, "pods") });
  });
  afterAll(async () => {
    for (const target of targets) await target.kill();
    cgroups.removeAll();
    await lxnsd.stop();
    rmSync(logs, { recursive: true, force: true });
  });

  it("inspect --container ID -n, --pod NS/NAME -n, --pod-uid UID --container-name NAME -u", async () => {
    const inspect = async (argv: string[]) => JSON.parse((await cli(["--json", "inspect", ...argv])).stdout).info.nsId as string;
    expect(await inspect(["--container", `containerd://${ids.app.slice(0, 12)}`, "-n"])).toBe(String(nsInode(pids.app, "net")));
    expect(await inspect(["--pod", `shop/${podName}`, "-n"])).toBe(String(nsInode(pids.sandbox, "net")));
    expect(await inspect(["--pod-uid", uid, "--container-name", "app", "-u"])).toBe(String(nsInode(pids.app, "uts")));
  });

  it("exec --pod NS/NAME --container-name NAME -u, and -a with a container", async () => {
    const one = await cli(["exec", "--pod", `shop/${podName}`, "--container-name", "app", "-u", "--", "hostname"]);
    expect(one).toMatchObject({ code: 0, stdout: "app-host\n" });
    const all = await cli(["exec", "--container", ids.sandbox, "-a", "--", "hostname"]);
    expect(all).toMatchObject({ code: 0, stdout: "sandbox-host\n" });
  });

  it("ps lists CONTAINER NAME POD NAMESPACE PID RUNTIME, and --json", async () => {
    const table = await cli(["ps", "--pod", `shop/${podName}`]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^CONTAINER\s+NAME\s+POD\s+NAMESPACE\s+PID\s+RUNTIME\n/);
    expect(table.stdout).toMatch(new RegExp(`^${ids.app.slice(0, 12)}\\s+app\\s+${podName}\\s+shop\\s+${pids.app}\\s+containerd$`, "m"));
    expect(table.stdout).toMatch(new RegExp(`^${ids.sandbox.slice(0, 12)}\\s+\\(sandbox\\)\\s+${podName}\\s+shop\\s+${pids.sandbox}\\s+containerd$`, "m"));
    const json = JSON.parse((await cli(["--json", "ps", "--pod-uid", uid])).stdout);
    expect(json.containers.map((c: { id: string }) => c.id).sort()).toEqual([ids.sandbox, ids.app].sort());
  });

  it("ls shows the CONTAINER and POD of each namespace's lowest pid, and takes the container flags", async () => {
    const result = await cli(["ls", "--container", ids.app, "-t", "net"]);
    expect(result.stdout).toMatch(new RegExp(`^${nsInode(pids.app, "net")}\\s+net\\s+1\\s+${pids.app}\\s+root\\s+${ids.app.slice(0, 12)}\\s+${uid}\\s+sleep 1000$`, "m"));
  });

  it("unshare takes the container flags as its --target: a new uts namespace starts from the container's hostname", async () => {
    for (const [argv, host] of [
      [["--container", ids.app], "app-host"],
      [["--pod", `shop/${podName}`], "sandbox-host"],
      [["--pod-uid", uid, "--container-name", "app"], "app-host"],
    ] as const) {
      const created = await cli(["unshare", "-u", ...argv]);
      expect(created).toMatchObject({ code: 0 });
      const handle = created.stdout.split(" ")[0];
      try {
        expect(await cli(["exec", "--handle", handle, "--", "hostname"])).toMatchObject({ code: 0, stdout: `${host}\n` });
        expect(JSON.parse((await cli(["--json", "inspect", "--handle", handle])).stdout).info.nsId).not.toBe(String(nsInode(pids.app, "uts")));
      } finally {
        await cli(["close", handle]);
      }
    }
  });

  it("sysctl, file and limit take the container flags", async () => {
    expect(await cli(["sysctl", "--pod-uid", uid, "--container-name", "app", "kernel.hostname"])).toMatchObject({ code: 0, stdout: "kernel.hostname = app-host\n" });
    expect(await cli(["sysctl", "-n", "--container", ids.sandbox, "kernel.hostname"])).toMatchObject({ code: 0, stdout: "sandbox-host\n" });
    const stat = await cli(["--json", "file", "stat", "--pod", `shop/${podName}`, "--container-name", "app", "/proc/self"]);
    expect(stat.code).toBe(0);
    // limit reads in the container's user namespace: one of its own here (the daemon cannot setns into its own).
    const id = randomContainerId();
    const userns = await startTarget(["unshare", "--user", "--map-root-user"]);
    targets.push(userns);
    cgroups.add(cgroups.make(`docker/${id}`), userns.pid);
    const inside = execFileSync("nsenter", ["-t", String(userns.pid), "-U", "cat", "/proc/sys/user/max_user_namespaces"], { encoding: "utf8" });
    expect(inside).not.toBe(readFileSync("/proc/sys/user/max_user_namespaces", "utf8"));
    expect(await cli(["limit", "user", "--container", id])).toMatchObject({ code: 0, stdout: inside });
  });

  it.each([[["exec"]], [["inspect"]], [["open"]], [["pin"]], [["unshare"]], [["limit"]], [["mount", "bind"]], [["file", "cat"]], [["file", "put"]], [["file", "stat"]], [["file", "ls"]], [["sysctl"]], [["ls"]]])(
    "%j --help lists --container, --pod, --pod-uid and --container-name",
    async (command) => {
      const help = await cli([...command, "--help"]);
      for (const flag of ["--container <id>", "--pod <namespace/name>", "--pod-uid <uid>", "--container-name <name>"]) expect(help.stdout).toContain(flag);
    },
  );

  it.each([
    [["unshare", "-u", "--target", "1", "--container", ids.app]],
    [["unshare", "-u", "--container", ids.app, "--", "true"]],
    [["sysctl", "-t", "1", "--container", ids.app, "kernel.hostname"]],
    [["file", "stat", "--handle", "h-x", "--pod-uid", uid, "/"]],
    [["limit", "user", "--userns-pid", "1", "--container", ids.app]],
    [["inspect", "--container-name", "app", "-n"]],
    [["inspect", "--pod", "no-slash", "-n"]],
    [["inspect", "-t", "1", "--container", ids.app, "-n"]],
    [["inspect", "--container", ids.app]],
    [["exec", "--container", ids.app, "--", "true"]],
    [["ls", "-p", "1", "--container", ids.app]],
  ])("%j is a usage error", async (argv) => {
    expect((await cli(argv)).code).toBe(2);
  });
});
