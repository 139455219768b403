#!/usr/bin/env node
// Decompresses the Snappy framing format (stdin to stdout) with
// @chainsafe/snappy-stream, an implementation that shares no code with
// Hydrant's writer, for the integration tests.
'use strict';

const { createUncompressStream } = require('@chainsafe/snappy-stream');

const u = createUncompressStream();
u.on('error', (err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
process.stdin.pipe(u).pipe(process.stdout);
