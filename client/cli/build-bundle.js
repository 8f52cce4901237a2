#!/usr/bin/env node
// Part of `npm run build`, after tsc: bundles lxnsctl into one file and puts
// a launcher in place of tsc's dist/client/cli/main.js (the bin), so that
// lxnsctl starts close to Node's own speed:
// - dist/client/cli/lxnsctl.js: client/cli/main.ts and everything it imports,
//   one minified CommonJS file (protobuf-es tree-shaken; grpc-js is only
//   evaluated when a command calls the daemon: cli-context requires it lazily;
//   grpc-health-check stays in node_modules);
// - dist/client/cli/main.js: turns on Node's compile cache (V8 code cache on
//   disk, Node >= 22.1), then loads the bundle and runs it.
// The unbundled tsc output of the other client files stays as it was (the SDK).
"use strict";
const { build } = require("esbuild");
const { chmodSync, writeFileSync } = require("node:fs");
const path = require("node:path");

const root = path.join(__dirname, "..", "..");
const out = path.join(root, "dist", "client", "cli");

// Built-in modules the bundle's libraries require at load but lxnsctl uses
// late or never: commander's child_process (≈12 ms; for executable
// subcommands, which lxnsctl has none of), grpc-js's dns (dns: targets) and
// zlib (compressed messages). Each is required on first use instead.
const LAZY_BUILTINS = /^(node:)?(child_process|dns|zlib)$/;
const lazyBuiltins = {
  name: "lazy-builtins",
  setup(build) {
    build.onResolve({ filter: LAZY_BUILTINS }, (args) => (args.namespace === "lazy" ? undefined : { path: args.path.replace(/^node:/, ""), namespace: "lazy" }));
    build.onLoad({ filter: /.*/, namespace: "lazy" }, (args) => ({
      contents: `module.exports = new Proxy({}, { get: (_target, key) => require("node:${args.path}")[key] });`,
      loader: "js",
    }));
  },
};

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
  plugins: [lazyBuiltins],
  // It reads its .proto from beside its own files at run time (and is loaded only by health).
  external: ["grpc-health-check"],
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
