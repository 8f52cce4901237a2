// `head -c N /dev/zero` in the target's net+uts namespaces, its stdout read to
// the end in the bench process: through Exec, or through a spawned nsenter.
import { spawn } from "node:child_process";
import type { LxnsdClient } from "../../client";
import { joinNetUts } from "./context";

/** Streams `bytes` zeros through Exec; checks the count and the exit. */
export async function execZeros(client: LxnsdClient, pid: number, bytes: number): Promise<void> {
  const session = client.exec({ join: joinNetUts(pid), argv: ["head", "-c", String(bytes), "/dev/zero"] });
  let got = 0;
  for await (const chunk of session.output) got += chunk.data.length;
  const exit = await session.wait();
  if (exit.code !== 0 || got !== bytes) throw new Error(`Exec of head: ${got} of ${bytes} bytes, ended ${JSON.stringify(exit)}`);
}

/** Streams `bytes` zeros from `nsenter … head` through a pipe; checks the count and the exit. */
export function nsenterZeros(pid: number, bytes: number): Promise<void> {
  const child = spawn("nsenter", ["-t", String(pid), "-n", "-u", "head", "-c", String(bytes), "/dev/zero"], { stdio: ["ignore", "pipe", "inherit"] });
  let got = 0;
  child.stdout!.on("data", (chunk: Buffer) => (got += chunk.length));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => (code === 0 && got === bytes ? resolve() : reject(new Error(`nsenter head: ${got} of ${bytes} bytes, ended ${code ?? signal}`))));
  });
}
