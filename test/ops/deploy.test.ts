import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { loadPolicy } from "../../server/auth/policy-file";
import { promisify } from "node:util";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { DAEMON_MAIN, spawnDaemon } from "../helpers/daemon-process";
import { itUnless } from "../helpers/visible-skip";

const DEPLOY = path.join(__dirname, "..", "..", "deploy");
const HEALTH_PROBE = ["lxnsctl", "--address", "unix:/run/lxnsd/lxnsd.sock", "--timeout", "2000", "health"];

/** A parsed YAML document: untyped, the assertions check its shape. */
type Doc = any;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

function documents(file: string): Doc[] {
  return parseAllDocuments(readFileSync(file, "utf8")).map((doc) => {
    expect(doc.errors).toEqual([]);
    return doc.toJS();
  });
}

function kind(docs: Doc[], name: string): Doc {
  const found = docs.find((doc) => doc.kind === name);
  expect(found).toBeDefined();
  return found;
}

/** The systemd unit's CapabilityBoundingSet, as Kubernetes names capabilities. */
function unitCapabilities(): string[] {
  const line = readFileSync(path.join(DEPLOY, "systemd", "lxnsd.service"), "utf8").match(/^CapabilityBoundingSet=(.*)$/m)![1];
  return line.split(/\s+/).map((cap) => cap.replace(/^CAP_/, "")).sort();
}

function expectHealthProbes(container: Doc): void {
  for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) expect(container[probe].exec.command).toEqual(HEALTH_PROBE);
}

/** The LXNSD_* names lxnsd --help lists. */
function knownEnvNames(): Set<string> {
  const help = execFileSync(process.execPath, [DAEMON_MAIN, "--help"], { encoding: "utf8" });
  return new Set(help.match(/LXNSD_[A-Z_]+/g));
}

describe("deploy/", () => {
  it("every YAML file parses", () => {
    const files = yamlFiles(DEPLOY);
    expect(files.map((f) => path.relative(DEPLOY, f)).sort()).toEqual(["kubernetes/daemonset.yaml", "kubernetes/sidecar.yaml", "lxnsd.yaml", "policy.yaml"]);
    for (const file of files) expect(documents(file).length).toBeGreaterThan(0);
  });

  it("the DaemonSet: host pid namespace, the unit's capabilities and no others, health probes, the socket on a hostPath, a grace longer than lxnsd's", () => {
    const docs = documents(path.join(DEPLOY, "kubernetes", "daemonset.yaml"));
    const pod = kind(docs, "DaemonSet").spec.template.spec;
    expect(pod.hostPID).toBe(true);
    expect(pod.hostUsers).toBe(true);
    const [container] = pod.containers;
    expect(container.securityContext.capabilities.drop).toEqual(["ALL"]);
    expect([...container.securityContext.capabilities.add].sort()).toEqual(unitCapabilities());
    expect(container.securityContext.privileged).toBe(false);
    expectHealthProbes(container);
    const config = parseYaml(kind(docs, "ConfigMap").data["lxnsd.yaml"]);
    expect(config.listen).toEqual(["unix:/run/lxnsd/lxnsd.sock"]);
    const socketMount = container.volumeMounts.find((m: Doc) => m.mountPath === "/run/lxnsd");
    expect(pod.volumes.find((v: Doc) => v.name === socketMount.name).hostPath.path).toBe("/run/lxnsd");
    expect(container.command).toEqual(["lxnsd", "--config", "/etc/lxnsd/lxnsd.yaml"]);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(config["shutdown-grace"]);
    const known = knownEnvNames();
    for (const env of container.env) expect(known).toContain(env.name);
    // Containers as targets: kubelet's pod logs, container log links, the host's cgroups and the CRI socket, all read-only.
    const hostPathOf = (mountPath: string) => {
      const mount = container.volumeMounts.find((m: Doc) => m.mountPath === mountPath);
      expect(mount?.readOnly).toBe(true);
      return pod.volumes.find((v: Doc) => v.name === mount.name).hostPath.path;
    };
    expect(hostPathOf(config["pod-log-dir"])).toBe("/var/log/pods");
    expect(hostPathOf("/var/log/containers")).toBe("/var/log/containers");
    expect(hostPathOf("/host/sys/fs/cgroup")).toBe("/sys/fs/cgroup");
    expect(hostPathOf("/run/containerd")).toBe("/run/containerd");
  });

  it("the DaemonSet asks the runtime over CRI: its --cri-endpoint is a socket in a directory mounted read-only from the host", () => {
    const docs = documents(path.join(DEPLOY, "kubernetes", "daemonset.yaml"));
    const pod = kind(docs, "DaemonSet").spec.template.spec;
    const endpoint: string = parseYaml(kind(docs, "ConfigMap").data["lxnsd.yaml"])["cri-endpoint"];
    expect(endpoint).toBe("unix:///run/containerd/containerd.sock");
    const socketDir = path.dirname(endpoint.slice("unix://".length));
    const mount = pod.containers[0].volumeMounts.find((m: Doc) => m.mountPath === socketDir);
    expect(mount.readOnly).toBe(true);
    expect(pod.volumes.find((v: Doc) => v.name === mount.name).hostPath).toEqual({ path: socketDir, type: "Directory" });
  });

  it("the sidecar: shared pid namespace, a native sidecar with health probes, the socket in an emptyDir both containers mount", () => {
    const pod = kind(documents(path.join(DEPLOY, "kubernetes", "sidecar.yaml")), "Pod").spec;
    expect(pod.shareProcessNamespace).toBe(true);
    const [sidecar] = pod.initContainers;
    expect(sidecar.restartPolicy).toBe("Always");
    expectHealthProbes(sidecar);
    expect([...sidecar.securityContext.capabilities.add].sort()).toEqual(unitCapabilities());
    const volume = pod.volumes.find((v: Doc) => v.emptyDir !== undefined).name;
    for (const container of [sidecar, ...pod.containers]) expect(container.volumeMounts).toContainEqual({ name: volume, mountPath: "/run/lxnsd" });
    const known = knownEnvNames();
    for (const env of sidecar.env) expect(known).toContain(env.name);
    expect(sidecar.env).toContainEqual({ name: "LXNSD_LISTEN", value: "unix:/run/lxnsd/lxnsd.sock" });
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(sidecar.env.find((e: Doc) => e.name === "LXNSD_SHUTDOWN_GRACE").value));
  });

  it("the systemd unit keeps the host's namespaces, signals lxnsd alone, keeps pins, and outwaits the grace", () => {
    const unit = readFileSync(path.join(DEPLOY, "systemd", "lxnsd.service"), "utf8");
    const settings = new Map(unit.split("\n").filter((l) => /^[A-Za-z]+=/.test(l)).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    for (const option of ["ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "PrivateNetwork", "PrivateUsers", "ProtectKernelTunables", "ProtectHostname", "RestrictNamespaces", "ReadWritePaths", "MemoryDenyWriteExecute"]) {
      expect(settings.has(option)).toBe(false);
    }
    expect(settings.get("KillMode")).toBe("mixed");
    expect(settings.get("RuntimeDirectory")).toBe("lxnsd");
    expect(settings.get("RuntimeDirectoryPreserve")).toBe("yes");
    expect(settings.get("ExecStart")).toBe("/usr/local/bin/lxnsd --config /etc/lxnsd/lxnsd.yaml");
    const grace = parseYaml(readFileSync(path.join(DEPLOY, "lxnsd.yaml"), "utf8"))["shutdown-grace"];
    expect(Number(settings.get("TimeoutStopSec"))).toBeGreaterThan(grace);
  });

  const haveSystemdAnalyze = (() => {
    try {
      execFileSync("systemd-analyze", ["--version"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();
  itUnless(haveSystemdAnalyze, "systemd-analyze is not installed (apt-get install systemd)")("systemd-analyze verify finds nothing to say about the unit (lxnsd's path pointed at node)", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-unit-"));
    try {
      const unit = path.join(dir, "lxnsd.service");
      writeFileSync(unit, readFileSync(path.join(DEPLOY, "systemd", "lxnsd.service"), "utf8").replace("/usr/local/bin/lxnsd", process.execPath));
      const { stdout, stderr } = await promisify(execFile)("systemd-analyze", ["verify", unit]);
      expect(stdout + stderr).toBe("");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("lxnsd accepts the shipped config files (deploy/lxnsd.yaml and the DaemonSet's ConfigMap)", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-deploy-"));
    try {
      const configMap = kind(documents(path.join(DEPLOY, "kubernetes", "daemonset.yaml")), "ConfigMap").data["lxnsd.yaml"];
      const fromConfigMap = path.join(dir, "configmap.yaml");
      writeFileSync(fromConfigMap, configMap);
      for (const config of [path.join(DEPLOY, "lxnsd.yaml"), fromConfigMap]) {
        // Flags win over the file: a socket, state dir and metrics port of the test's own.
        const socket = `unix:${path.join(dir, "lxnsd.sock")}`;
        const daemon = spawnDaemon(["--config", config, "--listen", socket, "--metrics-listen", "127.0.0.1:0", "--state-dir", dir, "--netns-dir", ""]);
        expect(await daemon.ready).toEqual([socket]);
        expect(await daemon.stop()).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the example policy is valid", () => {
    const policy = loadPolicy(path.join(DEPLOY, "policy.yaml"));
    expect(policy.identities.map((identity) => identity.name)).toEqual(["monitoring", "ci-runner", "operators"]);
  });
});
