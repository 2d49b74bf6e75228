import { type ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { SIDECAR_NODE_ENV } from '../contract/sidecar-node-options.ts';

/** Starts the built sidecar (dist/, with the shipped NODE_OPTIONS) on loopback; its stdout goes to /dev/null. */
export function spawnBuiltSidecar(configPath: string, port: number): ChildProcess {
  const root = resolve(import.meta.dirname, '..');
  return spawn(
    process.execPath,
    [
      join(root, 'dist/bin/gatehouse.js'),
      'sidecar',
      '--config',
      configPath,
      '--listen',
      `127.0.0.1:${port}`,
      '--admin-listen',
      '127.0.0.1:0',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...SIDECAR_NODE_ENV } }, // stdout (one line per request) is consumed by /dev/null
  );
}
