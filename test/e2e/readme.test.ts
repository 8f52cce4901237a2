import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { startDaemon } from "../helpers/daemon";
import { describeRoot } from "../helpers/privileged";
import { nsInode } from "../helpers/proc";

const root = path.join(__dirname, "..", "..");

describeRoot("README", () => {
  it("shows examples/quickstart.js as it is, and it runs as written", async () => {
    const readme = readFileSync(path.join(root, "README.md"), "utf8");
    const block = /<!-- example:quickstart -->\n```js\n([\s\S]*?)```\n<!-- \/example:quickstart -->/.exec(readme);
    const example = path.join(root, "examples", "quickstart.js");
    expect(block?.[1]).toBe(readFileSync(example, "utf8"));
    const lxnsd = await startDaemon();
    try {
      // Asynchronously: the daemon serves from this very event loop.
      const { stdout: out } = await promisify(execFile)(process.execPath, [example], { encoding: "utf8", env: { ...process.env, LXNSD_ADDRESS: lxnsd.address } });
      const lines = out.trim().split("\n");
      expect(lines[0]).toBe(`my net namespace: ${nsInode("self", "net")}`);
      expect(lines.slice(1)).toEqual([expect.stringMatching(/^new net namespace \d+, handle h-/), expect.stringMatching(/^new uts namespace \d+, handle h-/)]);
      expect(lxnsd.daemon.handles.size).toBe(0);
    } finally {
      await lxnsd.stop();
    }
  });

  it("names the two commands that work on a fresh machine", () => {
    const readme = readFileSync(path.join(root, "README.md"), "utf8");
    const scripts = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).scripts;
    expect(readme).toContain("npm start");
    expect(readme).toContain("npm test");
    expect(scripts.start).toBe("node dist/server/main.js");
  });
});
