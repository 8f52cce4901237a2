import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { NamespaceType, status } from "../../../client";
import { startDaemon } from "../../helpers/daemon";
import type { TestDaemon } from "../../helpers/daemon";
import { describeRoot } from "../../helpers/privileged";
import { startTarget } from "../../helpers/targets";
import type { Target } from "../../helpers/targets";

const ref = (type: NamespaceType, pid: number) => ({ type, source: { case: "pid" as const, value: pid } });
const nsenter = (pid: number, flag: string, ...args: string[]) => execFileSync("nsenter", ["-t", String(pid), flag, ...args], { encoding: "utf8" }).trim();

describeRoot("GetSysctl / SetSysctl", () => {
  let lxnsd: TestDaemon;
  let target: Target;

  beforeAll(async () => {
    lxnsd = await startDaemon();
    target = await startTarget(["unshare", "--net", "--uts", "--ipc"]);
  });
  afterAll(async () => {
    await target?.kill();
    await lxnsd?.stop();
  });

  it("sets net.ipv4.ip_forward in the target's network namespace only", async () => {
    const host = readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim();
    const want = host === "1" ? "0" : "1";
    expect((await lxnsd.client.getSysctl({ ref: ref(NamespaceType.NET, target.pid), name: "net.ipv4.ip_forward" })).value).toBe(nsenter(target.pid, "-n", "sysctl", "-n", "net.ipv4.ip_forward"));
    const { value } = await lxnsd.client.setSysctl({ ref: ref(NamespaceType.NET, target.pid), name: "net/ipv4/ip_forward", value: want });
    expect(value).toBe(want);
    expect(nsenter(target.pid, "-n", "sysctl", "-n", "net.ipv4.ip_forward")).toBe(want);
    expect(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim()).toBe(host);
    expect((await lxnsd.client.getSysctl({ ref: ref(NamespaceType.NET, target.pid), name: "net.ipv4.ip_forward" })).value).toBe(want);
  });

  it("sets kernel.hostname and an IPC sysctl in their namespaces", async () => {
    const hostName = readFileSync("/proc/sys/kernel/hostname", "utf8").trim();
    const { value } = await lxnsd.client.setSysctl({ ref: ref(NamespaceType.UTS, target.pid), name: "kernel.hostname", value: "files-box" });
    expect(value).toBe("files-box");
    expect(nsenter(target.pid, "-u", "hostname")).toBe("files-box");
    expect(readFileSync("/proc/sys/kernel/hostname", "utf8").trim()).toBe(hostName);
    const hostShm = readFileSync("/proc/sys/kernel/shmmni", "utf8").trim();
    await lxnsd.client.setSysctl({ ref: ref(NamespaceType.IPC, target.pid), name: "kernel.shmmni", value: "1234" });
    expect(nsenter(target.pid, "-i", "cat", "/proc/sys/kernel/shmmni")).toBe("1234");
    expect(readFileSync("/proc/sys/kernel/shmmni", "utf8").trim()).toBe(hostShm);
  });

  it("refuses names of another type, malformed names and bad values", async () => {
    const net = ref(NamespaceType.NET, target.pid);
    const cases: [string, () => Promise<unknown>, status, string?][] = [
      ["uts name on net", () => lxnsd.client.getSysctl({ ref: net, name: "kernel.hostname" }), status.INVALID_ARGUMENT, "uts"],
      ["net name on uts", () => lxnsd.client.setSysctl({ ref: ref(NamespaceType.UTS, target.pid), name: "net.ipv4.ip_forward", value: "1" }), status.INVALID_ARGUMENT, "net"],
      ["no type", () => lxnsd.client.setSysctl({ ref: net, name: "vm.swappiness", value: "1" }), status.INVALID_ARGUMENT, "no namespace type"],
      ["kernel.sem on uts", () => lxnsd.client.getSysctl({ ref: ref(NamespaceType.UTS, target.pid), name: "kernel.sem" }), status.INVALID_ARGUMENT, "ipc"],
      ["dot dot", () => lxnsd.client.getSysctl({ ref: net, name: "net/../kernel/hostname" }), status.INVALID_ARGUMENT],
      ["empty component", () => lxnsd.client.getSysctl({ ref: net, name: "net..ipv4" }), status.INVALID_ARGUMENT],
      ["empty", () => lxnsd.client.getSysctl({ ref: net, name: "" }), status.INVALID_ARGUMENT],
      ["missing", () => lxnsd.client.getSysctl({ ref: net, name: "net.ipv4.no_such_thing" }), status.NOT_FOUND],
      ["bad value", () => lxnsd.client.setSysctl({ ref: net, name: "net.ipv4.ip_forward", value: "x" }), status.INVALID_ARGUMENT],
      ["NUL", () => lxnsd.client.setSysctl({ ref: net, name: "net.ipv4.ip_forward", value: "1\0" }), status.INVALID_ARGUMENT],
    ];
    for (const [what, call, code, words] of cases) {
      await expect(call().then(() => what)).rejects.toMatchObject({ code, ...(words ? { message: expect.stringContaining(words) } : {}) });
    }
  });
});
