import { type ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { SIDECAR_NODE_OPTIONS } from '../contract/sidecar-node-options.ts';
import { type MemoryGroup, pinned } from './process-measures.ts';

export interface BuiltSidecarOptions {
  /** Where the config comes from, instead of `--config <configPath>` (e.g. the operator's flags). */
  readonly configFlags?: readonly string[];
  /** NODE_OPTIONS instead of the shipped ones. */
  readonly nodeOptions?: string;
  /** The admin listener's port (/metrics), instead of any free one. */
  readonly adminPort?: number;
  /** Pinned to a core, in the memory group when it has one. */
  readonly pin?: { readonly core: number; readonly memory: MemoryGroup };
}

/** Starts the built sidecar (dist/, with the shipped NODE_OPTIONS) on loopback; its stdout goes to /dev/null. */
export function spawnBuiltSidecar(
  configPath: string,
  port: number,
  options: BuiltSidecarOptions = {},
): ChildProcess {
  const root = resolve(import.meta.dirname, '..');
  const args = [
    join(root, 'dist/bin/gatehouse.js'),
    'sidecar',
    ...(options.configFlags ?? ['--config', configPath]),
    '--listen',
    `127.0.0.1:${port}`,
    '--admin-listen',
    `127.0.0.1:${options.adminPort ?? 0}`,
  ];
  const [command, argv] = options.pin
    ? pinned(options.pin.memory, options.pin.core, process.execPath, args)
    : [process.execPath, args];
  return spawn(command, argv, {
    stdio: ['ignore', 'ignore', 'inherit'], // stdout (one line per request) is consumed by /dev/null
    env: { ...process.env, NODE_OPTIONS: options.nodeOptions ?? SIDECAR_NODE_OPTIONS },
  });
}
