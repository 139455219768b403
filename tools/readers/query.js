#!/usr/bin/env node
// Runs one SQL query with an independent reader and prints the result as
// JSON lines (one object per row), for Hydrant's integration tests.
//
//   node query.js chdb   "SELECT * FROM file('x.orc', ORC)"
//   node query.js duckdb "SELECT * FROM 'x.parquet'"
//
// chdb (embedded ClickHouse) only reads files under the working directory.
'use strict';

async function main() {
  const [engine, sql] = process.argv.slice(2);
  if (!engine || !sql) {
    throw new Error('usage: query.js chdb|duckdb SQL');
  }
  if (engine === 'chdb') {
    const { query } = require('chdb');
    process.stdout.write(query(sql, 'JSONEachRow'));
    return;
  }
  if (engine === 'duckdb') {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    const reader = await conn.runAndReadAll(sql);
    for (const row of reader.getRowObjectsJson()) {
      process.stdout.write(JSON.stringify(row) + '\n');
    }
    return;
  }
  throw new Error(`unknown engine ${engine} (want chdb or duckdb)`);
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
