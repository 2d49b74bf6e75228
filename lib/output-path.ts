import { statSync } from 'node:fs';

/**
 * The input that an output path names, if any: the same file through any path or link. A command
 * that opens its output before (or after) reading would truncate what it was asked to read: the
 * logs an analyst audits, the YAML a platform engineer validates.
 */
export function inputAtOutput(output: string, inputs: Iterable<string>): string | undefined {
  const target = statOrUndefined(output);
  if (!target?.isFile()) return undefined;
  for (const input of inputs) {
    if (input === '-') continue;
    const info = statOrUndefined(input);
    if (info && info.dev === target.dev && info.ino === target.ino) return input;
  }
  return undefined;
}

function statOrUndefined(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}
