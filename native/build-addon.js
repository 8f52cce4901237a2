#!/usr/bin/env node
// Builds the addon (native/binding.gyp) with node-gyp, offline, against the
// headers of the Node.js that runs this script.
//
// npm's scripts find `node` in node_modules/.bin first: the Node.js LTS this
// project depends on (the registry's node-linux-<arch> package), which ships
// its headers in include/node next to bin/node. Handing node-gyp that
// directory as --nodedir means it never downloads headers from nodejs.org.
// A Node.js without headers beside it (a distribution's /usr/bin/node without
// its -dev package) falls back to node-gyp's own lookup (npm's `nodedir`, or
// its cache and download).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const nodedir = path.resolve(process.execPath, '..', '..');
const args = [require.resolve('node-gyp/bin/node-gyp.js'), 'rebuild', '--directory', __dirname];
if (fs.existsSync(path.join(nodedir, 'include', 'node', 'common.gypi'))) {
  args.push(`--nodedir=${nodedir}`);
}
args.push(...process.argv.slice(2));
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(result.status ?? 1);
