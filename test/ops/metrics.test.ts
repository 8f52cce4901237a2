import * as http from "node:http";
import { NamespaceType, status } from "../../client";
import { parseHostPort } from "../../server/ops/metrics-server";
import { startDaemon } from "../helpers/daemon";
import type { TestDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { processState, waitFor } from "../helpers/proc";

/**
 * GET over a connection of its own, closed with the response (agent: false): fetch's keep-alive pool kept a
 * socket that closed seconds later, in whichever test file ran next, and fd-counting tests there saw one fd fewer.
 */
function scrape(address: string, path = "/metrics"): Promise<{ status: number; type: string | null; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(`http://${address}${path}`, { agent: false }, (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (text += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, type: response.headers["content-type"] ?? null, text }));
        response.on("error", reject);
      })
      .on("error", reject);
  });
}

/** The value of one sample line `name{labels} value` (labels in the order prom-client writes them), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const rendered = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(",");
  const head = rendered ? `${name}{${rendered}} ` : `${name} `;
  const line = text.split("\n").find((l) => l.startsWith(head));
  return line === undefined ? undefined : Number(line.slice(head.length));
}

describe("parseHostPort", () => {
  it("takes HOST:PORT and [V6]:PORT, refuses the rest", () => {
    expect(parseHostPort("127.0.0.1:9464")).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(parseHostPort("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(parseHostPort("localhost:80")).toEqual({ host: "localhost", port: 80 });
    for (const bad of ["9464", ":9464", "host:", "host:99999", "unix:/x.sock", "::1:80"]) expect(() => parseHostPort(bad)).toThrow(/is not HOST:PORT/);
  });
});

describeRoot("Prometheus metrics", () => {
  let d: TestDaemon;

  beforeEach(async () => {
    d = await startDaemon({ metricsListen: "127.0.0.1:0", maxChildren: 1 });
  });
  afterEach(() => d.stop());

  it("counts the calls just made by service, method and code, with their latency", async () => {
    await d.client.getCurrentNamespaces();
    await d.client.getCurrentNamespaces();
    await expect(d.client.inspect({ ref: { type: NamespaceType.NET, source: { case: "pid", value: -1 } } })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await d.client.run({ argv: ["true"] });
    const { status: httpStatus, type, text } = await scrape(d.daemon.metricsAddress!);
    expect(httpStatus).toBe(200);
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    const ns = "lxnsd.v1.NamespaceService";
    expect(sample(text, "lxnsd_calls_total", { service: ns, method: "GetCurrentNamespaces", code: "OK" })).toBe(2);
    expect(sample(text, "lxnsd_calls_total", { service: ns, method: "Inspect", code: "INVALID_ARGUMENT" })).toBe(1);
    expect(sample(text, "lxnsd_calls_total", { service: ns, method: "Inspect", code: "OK" })).toBeUndefined();
    expect(sample(text, "lxnsd_calls_total", { service: "lxnsd.v1.ProcessService", method: "Run", code: "OK" })).toBe(1);
    expect(sample(text, "lxnsd_call_duration_seconds_count", { service: ns, method: "GetCurrentNamespaces" })).toBe(2);
    expect(sample(text, "lxnsd_call_duration_seconds_bucket", { le: "+Inf", service: ns, method: "GetCurrentNamespaces" })).toBe(2);
    expect(sample(text, "lxnsd_call_duration_seconds_sum", { service: "lxnsd.v1.ProcessService", method: "Run" })).toBeGreaterThan(0);
    expect(sample(text, "process_open_fds")).toBeGreaterThan(0);
  });

  it("shows an open handle, a running program and the queue depth as gauges", async () => {
    const before = (await scrape(d.daemon.metricsAddress!)).text;
    expect(sample(before, "lxnsd_handles_open")).toBe(0);
    expect(sample(before, "lxnsd_children")).toBe(0);
    expect(sample(before, "lxnsd_queue_depth")).toBe(0);

    const { handle } = await d.client.open({ ref: { type: NamespaceType.NET, source: { case: "self", value: true } } });
    const session = d.client.exec({ argv: ["sleep", "100"] });
    const pid = await session.started;
    const queued = d.client.run({ argv: ["true"] });
    await waitFor(() => d.daemon.slots.waiting === 1, 5000, "a queued Run");
    const during = (await scrape(d.daemon.metricsAddress!)).text;
    expect(sample(during, "lxnsd_handles_open")).toBe(1);
    expect(sample(during, "lxnsd_children")).toBe(1);
    expect(sample(during, "lxnsd_queue_depth")).toBe(1);

    session.signal(9);
    await session.wait();
    expect((await queued).exit).toEqual({ code: 0 });
    await waitFor(() => processState(pid) === null, 2000, `pid ${pid} to be gone`);
    await d.client.close({ handle: handle!.id });
    const after = (await scrape(d.daemon.metricsAddress!)).text;
    expect(sample(after, "lxnsd_handles_open")).toBe(0);
    expect(sample(after, "lxnsd_children")).toBe(0);
  });

  it("answers 404 off /metrics", async () => {
    expect((await scrape(d.daemon.metricsAddress!, "/")).status).toBe(404);
  });
});
