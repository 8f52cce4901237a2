import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import pino from "pino";
import type { Logger } from "pino";
import { createClient } from "../../client";
import type { LxnsdClient } from "../../client";
import { defaultConfig } from "../../server/config/config";
import type { DaemonConfig } from "../../server/config/config";
import { Daemon } from "../../server/daemon";

/** A daemon served from this process on a socket of its own, with a client connected to it. */
export interface TestDaemon {
  address: string;
  daemon: Daemon;
  client: LxnsdClient;
  stop(): Promise<void>;
}

/** Starts an in-process daemon on a fresh unix socket in a temp dir. */
export async function startDaemon(overrides: Partial<DaemonConfig> = {}, log?: Logger): Promise<TestDaemon> {
  const dir = mkdtempSync(path.join(tmpdir(), "lxnsd-test-"));
  const address = `unix:${path.join(dir, "lxnsd.sock")}`;
  const daemon = new Daemon(defaultConfig({ listen: [address], ...overrides }), log ?? pino({ level: process.env.LXNSD_TEST_LOG ?? "silent" }));
  await daemon.start();
  const client = createClient(address);
  return {
    address,
    daemon,
    client,
    stop: async () => {
      client.disconnect();
      await daemon.stop(1000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
