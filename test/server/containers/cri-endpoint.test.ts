import { createServer } from "node:net";
import type { Server as NetServer, Socket } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Server, ServerCredentials, status } from "@grpc/grpc-js";
import { DEFAULT_CRI_ENDPOINTS, defaultCriEndpoint, parseCriEndpoint } from "../../../server/containers/cri-endpoint";
import { CriRuntime, RuntimeCallFailed, pidOfVerboseInfo, runtimeNameOf } from "../../../server/containers/cri-runtime";
import { RuntimeUnavailable } from "../../../server/containers/runtime-names";

describe("--cri-endpoint values", () => {
  it("keeps unix:///PATH, turns unix:PATH and a bare absolute path into it, and keeps \"\" (off)", () => {
    expect(parseCriEndpoint("unix:///run/containerd/containerd.sock")).toBe("unix:///run/containerd/containerd.sock");
    expect(parseCriEndpoint("unix:/var/run/crio/crio.sock")).toBe("unix:///var/run/crio/crio.sock");
    expect(parseCriEndpoint("/run/k3s/containerd/containerd.sock")).toBe("unix:///run/k3s/containerd/containerd.sock");
    expect(parseCriEndpoint("")).toBe("");
  });

  it.each(["tcp://127.0.0.1:1234", "unix://relative.sock", "unix:///run/../etc/x.sock", "containerd.sock", "unix:///run//x.sock", "/run/x\0.sock"])(
    "refuses %j, saying what it takes",
    (value) => {
      expect(() => parseCriEndpoint(value)).toThrow('must be unix:///PATH with PATH an absolute, normalized socket path, or "" (no container runtime)');
    },
  );

  it("defaults to containerd's socket, then CRI-O's, then none, by which exists", () => {
    expect(DEFAULT_CRI_ENDPOINTS).toEqual(["unix:///run/containerd/containerd.sock", "unix:///var/run/crio/crio.sock"]);
    expect(defaultCriEndpoint(() => true)).toBe("unix:///run/containerd/containerd.sock");
    expect(defaultCriEndpoint((file) => file === "/var/run/crio/crio.sock")).toBe("unix:///var/run/crio/crio.sock");
    expect(defaultCriEndpoint(() => false)).toBe("");
  });

  it("names the runtime by its socket", () => {
    expect(runtimeNameOf("unix:///run/containerd/containerd.sock")).toBe("containerd");
    expect(runtimeNameOf("unix:///var/run/crio/crio.sock")).toBe("cri-o");
    expect(runtimeNameOf("unix:///run/cri-dockerd.sock")).toBe("docker");
    expect(runtimeNameOf("unix:///run/other.sock")).toBe("cri");
  });
});

describe("the pid in a verbose status", () => {
  it("is info.info's pid when a positive integer, else undefined", () => {
    expect(pidOfVerboseInfo({ info: JSON.stringify({ sandboxID: "x", pid: 4242, runtimeSpec: {} }) })).toBe(4242);
    for (const info of [{}, { info: "not json" }, { info: "null" }, { info: '{"pid":0}' }, { info: '{"pid":-1}' }, { info: '{"pid":"12"}' }, { info: '{"pid":1.5}' }, { other: '{"pid":12}' }] as Record<string, string>[]) {
      expect(pidOfVerboseInfo(info)).toBeUndefined();
    }
  });
});

describe("a CRI endpoint that cannot be used", () => {
  let dir: string;
  const runtimes: CriRuntime[] = [];

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "lxnsd-cri-unreachable-"));
  });
  afterEach(() => {
    runtimes.splice(0).forEach((runtime) => runtime.close());
    rmSync(dir, { recursive: true, force: true });
  });

  function runtime(endpoint: string, callTimeoutMs: number): CriRuntime {
    const made = new CriRuntime(endpoint, { callTimeoutMs });
    runtimes.push(made);
    return made;
  }

  it.each([
    ["no socket at all", (d: string) => path.join(d, "missing.sock")],
    ["a file that is not a socket", (d: string) => {
      writeFileSync(path.join(d, "file.sock"), "");
      return path.join(d, "file.sock");
    }],
  ])("rejects every call with RuntimeUnavailable naming it (%s), at once, not at the deadline", async (_what, make) => {
    const endpoint = `unix://${make(dir)}`;
    // A deadline longer than jest's timeout: only a refusal by the connection itself can end these calls in time.
    const cri = runtime(endpoint, 10 * 60 * 1000);
    for (const call of [() => cri.containers(), () => cri.sandboxes(), () => cri.pidOf("0123456789ab", false), () => cri.pidOf("0123456789ab", true)]) {
      const err = await call().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(RuntimeUnavailable);
      expect(err).toMatchObject({ endpoint, message: `container runtime at ${endpoint} is unreachable` });
      expect((err as RuntimeUnavailable).cause).toMatchObject({ code: status.UNAVAILABLE });
    }
  });

  it("rejects with RuntimeUnavailable at the deadline when the endpoint accepts but never answers, and the event loop runs meanwhile", async () => {
    const file = path.join(dir, "silent.sock");
    const held: Socket[] = [];
    const silent: NetServer = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(file, resolve));
    try {
      const endpoint = `unix://${file}`;
      const cri = runtime(endpoint, 300);
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 10);
      const err = await cri.containers().then(() => undefined, (e: unknown) => e);
      clearInterval(ticker);
      expect(err).toBeInstanceOf(RuntimeUnavailable);
      expect(err).toMatchObject({ endpoint });
      expect((err as RuntimeUnavailable).cause).toMatchObject({ code: status.DEADLINE_EXCEEDED });
      expect(held.length).toBeGreaterThan(0);
      expect(ticks).toBeGreaterThan(0);
    } finally {
      held.forEach((socket) => socket.destroy());
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("rejects with RuntimeCallFailed naming the method and the code when a gRPC server there is no CRI runtime", async () => {
    const file = path.join(dir, "not-cri.sock");
    const server = new Server();
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${file}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    try {
      const endpoint = `unix://${file}`;
      const err = await runtime(endpoint, 5000).containers().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(RuntimeCallFailed);
      expect(err).toMatchObject({ endpoint, method: "ListContainers", code: status.UNIMPLEMENTED });
      expect((err as Error).message).toMatch(new RegExp(`^container runtime at ${endpoint} answered ListContainers with UNIMPLEMENTED: `));
    } finally {
      server.forceShutdown();
    }
  });
});
