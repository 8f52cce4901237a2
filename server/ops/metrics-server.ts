import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

/** `HOST:PORT` (or `[V6]:PORT`) as host and port; throws on anything else. */
export function parseHostPort(address: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new Error(`metrics address ${JSON.stringify(address)} is not HOST:PORT`);
  return { host: m[1].replace(/^\[|\]$/g, ""), port };
}

/** The Prometheus endpoint: GET /metrics in the text exposition format, 404 elsewhere. */
export class MetricsServer {
  private readonly server: Server;

  constructor(private readonly registry: Registry) {
    this.server = createServer((request, response) => {
      if (request.method !== "GET" || request.url?.split("?")[0] !== "/metrics") {
        response.writeHead(404, { "content-type": "text/plain" }).end("not found: try GET /metrics\n");
        return;
      }
      this.registry.metrics().then(
        (text) => response.writeHead(200, { "content-type": this.registry.contentType }).end(text),
        (err: Error) => response.writeHead(500, { "content-type": "text/plain" }).end(`${err.message}\n`),
      );
    });
  }

  /** Listens on `address` (HOST:PORT, port 0 = any); resolves to the bound HOST:PORT. */
  listen(address: string): Promise<string> {
    const { host, port } = parseHostPort(address);
    return new Promise((resolve, reject) => {
      this.server.once("error", (err) => reject(new Error(`cannot serve metrics on ${address}: ${err.message}`)));
      this.server.listen(port, host, () => {
        const bound = this.server.address() as AddressInfo;
        resolve(`${bound.family === "IPv6" ? `[${bound.address}]` : bound.address}:${bound.port}`);
      });
    });
  }

  /** Stops listening and drops open scrape connections. */
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
