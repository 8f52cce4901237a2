// `node dist/bench/floor-server.js unix:PATH`: the floor server as a process of
// its own, like the daemon. Prints "ready" once it serves; SIGTERM ends it.
import { serveFloor } from "./floor";

async function main(): Promise<void> {
  const address = process.argv[2];
  if (!address) throw new Error("usage: floor-server.js ADDRESS");
  const server = await serveFloor(address);
  process.once("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
  process.stdout.write("ready\n");
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/floor-server: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
