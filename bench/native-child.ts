// What a runChild child costs, as ratios against nsenter(1) and unshare(1)
// doing the same kind of work, all measured in this one process, rounds
// interleaved so that drift hits every case alike. Root only.
//
//   npm run bench:native      (compiles bench/ and what it imports into dist/)
import { execFile } from "node:child_process";
import { promisify } from "node:util";

import * as native from "../native/lib";
import { statusField, waitFor } from "../test/helpers/proc";
import { percentile } from "./stats";

const { CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWTIME, CLONE_NEWUTS } = native;

/** Measured rounds per case, after WARMUP unmeasured ones. */
const ROUNDS = 300;
const WARMUP = 20;

const run = promisify(execFile);

interface Case {
  name: string;
  /** One run; resolves once everything it created is released or handed back. */
  once: () => Promise<void>;
}

/** Runs `spec` and closes every fd it hands back (the keeper's too). */
async function runAndClose(spec: native.ChildSpec): Promise<void> {
  const r = await native.runChild(spec);
  for (const fd of r.fds) native.close(fd);
  if (r.keeper !== undefined) native.close(r.keeper.fd);
}

/** The keeper init's VmRSS next to this process's, from one PID hold. */
async function keeperRss(): Promise<string> {
  const r = await native.runChild({ unshareFlags: CLONE_NEWPID, holdNs: ["pid_for_children"] });
  const line = `keeper init (lxnsd-pause) VmRSS ${statusField(r.keeper!.pid, "VmRSS")}; this process VmRSS ${statusField(process.pid, "VmRSS")}`;
  for (const fd of [...r.fds, r.keeper!.fd]) native.close(fd);
  return line;
}

async function main(): Promise<void> {
  if (process.geteuid?.() !== 0) {
    process.stderr.write("bench/native-child: must run as root (it creates and joins namespaces)\n");
    process.exit(1);
  }
  const net = native.openPath("/proc/self/ns/net");
  const uts = native.openPath("/proc/self/ns/uts");
  const time = native.openPath("/proc/self/ns/time");
  const join = [{ fd: net, nstype: CLONE_NEWNET }, { fd: uts, nstype: CLONE_NEWUTS }];

  const NSENTER = "nsenter -n -u true (baseline)";
  const UNSHARE = "unshare --net --uts true (baseline)";
  const cases: Case[] = [
    { name: "runChild join net+uts (floor of a child)", once: () => runAndClose({ join }) },
    {
      name: "runChild unshare NET+UTS + hostname + lo + hold",
      once: () => runAndClose({ unshareFlags: CLONE_NEWNET | CLONE_NEWUTS, hostname: "bench", loopbackUp: true, holdNs: ["net", "uts"] }),
    },
    { name: "runChild unshare PID + hold (keeper)", once: () => runAndClose({ unshareFlags: CLONE_NEWPID, holdNs: ["pid_for_children"] }) },
    {
      name: "runChild join time (fork-style) + readFile",
      once: () => runAndClose({ join: [{ fd: time, nstype: CLONE_NEWTIME }], readFile: { path: "/proc/uptime", maxBytes: 64 } }),
    },
    { name: NSENTER, once: async () => void (await run("nsenter", ["-t", String(process.pid), "-n", "-u", "true"])) },
    { name: UNSHARE, once: async () => void (await run("unshare", ["--net", "--uts", "true"])) },
  ];

  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    for (const c of cases) {
      const start = process.hrtime.bigint();
      await c.once();
      if (round >= WARMUP) samples.get(c.name)!.push(Number(process.hrtime.bigint() - start) / 1000);
    }
  }
  // Closed keeper fds end their inits asynchronously.
  await waitFor(() => native.runningChildren() === 0, 5000, "every keeper init to be reaped");

  const p50 = new Map<string, number>();
  const rows = cases.map((c) => {
    const sorted = samples.get(c.name)!.sort((a, b) => a - b);
    p50.set(c.name, percentile(sorted, 50));
    return { name: c.name, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  });
  const ratio = (v: number, base: string): string => (v / p50.get(base)!).toFixed(2);
  const lines = [
    `runChild vs nsenter/unshare, ${ROUNDS} sequential rounds per case (after ${WARMUP} warm-up), µs, wall clock incl. the event loop`,
    "",
    "| case | p50 µs | p99 µs | p50 ÷ nsenter | p50 ÷ unshare |",
    "|---|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.name} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${ratio(r.p50, NSENTER)} | ${ratio(r.p50, UNSHARE)} |`),
    "",
    await keeperRss(),
  ];
  process.stdout.write(lines.join("\n") + "\n");
  for (const fd of [net, uts, time]) native.close(fd);
  await waitFor(() => native.runningChildren() === 0, 5000, "the last keeper init to be reaped");
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/native-child: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
