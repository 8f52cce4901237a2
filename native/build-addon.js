#!/usr/bin/env node
// Builds the addon (native/binding.gyp) with node-gyp, offline, against the
// headers of the Node.js that runs this script.
//
// The headers of an official Node.js build (the registry's node-linux-<arch>
// package, nodejs.org's tarballs) and of a distribution's node with its -dev
// package (/usr/bin/node, /usr/include/node) sit in include/node next to
// bin/node. Handing node-gyp that directory as --nodedir means it never
// downloads headers from nodejs.org. A node without headers beside it falls
// back to node-gyp's own lookup (npm's `nodedir`, its cache, a download).
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
