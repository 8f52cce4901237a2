#!/usr/bin/env node
// Part of `npm run build`, after tsc: bundles lxnsctl into one file and puts
// a launcher in place of tsc's dist/client/cli/main.js (the bin), so that
// lxnsctl starts close to Node's own speed:
// - dist/client/cli/lxnsctl.js: client/cli/main.ts and everything it imports,
//   one minified CommonJS file (protobuf-es tree-shaken; grpc-js is only
//   evaluated when a command calls the daemon: cli-context requires it lazily);
// - dist/client/cli/main.js: turns on Node's compile cache (V8 code cache on
//   disk, Node >= 22.1), then loads the bundle and runs it.
// The unbundled tsc output of the other client files stays as it was (the SDK).
"use strict";
const { build } = require("esbuild");
const { chmodSync, writeFileSync } = require("node:fs");
const path = require("node:path");

const root = path.join(__dirname, "..", "..");

// commander requires child_process at load (≈12 ms), for executable
// subcommands lxnsctl does not have: the bundle gets it on first use instead.
const lazyChildProcess = {
  name: "lazy-child-process",
  setup(build) {
    build.onResolve({ filter: /^(node:)?child_process$/ }, (args) => (args.namespace === "lazy" ? undefined : { path: "child_process", namespace: "lazy" }));
    build.onLoad({ filter: /.*/, namespace: "lazy" }, () => ({
      contents: 'module.exports = new Proxy({}, { get: (_target, key) => require("node:child_process")[key] });',
      loader: "js",
    }));
  },
};
const out = path.join(root, "dist", "client", "cli");

async function main() {
await build({
  entryPoints: [path.join(root, "client", "cli", "main.ts")],
  outfile: path.join(out, "lxnsctl.js"),
  bundle: true,
  platform: "node",
  target: "node22",
  format: "cjs",
  minify: true,
  keepNames: true,
  legalComments: "none",
  logLevel: "warning",
  plugins: [lazyChildProcess],
});

writeFileSync(
  path.join(out, "main.js"),
  `#!/usr/bin/env node
"use strict";
// The lxnsctl bin (written by client/cli/build-bundle.js): the compile cache first, then the bundle.
try {
  require("node:module").enableCompileCache?.();
} catch {
  // no cache: only a slower start
}
require("./lxnsctl.js").runAsBin();
`,
);
chmodSync(path.join(out, "main.js"), 0o755);
}

main().catch((err) => {
  process.stderr.write(`build-bundle: ${err.message}\n`);
  process.exit(1);
});
