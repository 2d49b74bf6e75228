/** `gatehouse revoke --revocations-dir`: a revocation as a file the standalone sidecars read. */
import { statSync } from 'node:fs';
import { writeRevocationFile } from '../../../contract/revocation-files.ts';
import { applicationKeys, type RevokeFlags, revocationNamePrefix } from './revoke-flags.ts';
import { endedSentence, writeResult } from './revoke-report.ts';

/** Why a revocation file could not be written into a directory that exists. */
const WRITE_REFUSALS = new Map([
  ['EACCES', 'permission denied: run as a user who may write there, as the sidecars do'],
  ['EPERM', 'not permitted'],
  ['EROFS', 'a read-only file system: give the directory as the sidecars mount it writable'],
  ['ENOSPC', 'no space left on its device'],
  ['EDQUOT', 'over its disk quota'],
]);

/** Why --revocations-dir cannot take a revocation file, or undefined when it is a directory. */
function unusableDirectory(path: string): string | undefined {
  let info: ReturnType<typeof statSync>;
  try {
    info = statSync(path);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT')
      return `--revocations-dir ${path} does not exist: give the directory the standalone sidecars read (their --revocations-dir)`;
    if (code === 'ENOTDIR') return `--revocations-dir ${path} is not a directory`;
    if (code === 'EACCES') return `--revocations-dir ${path} cannot be reached (EACCES: permission denied)`;
    throw error;
  }
  return info.isDirectory() ? undefined : `--revocations-dir ${path} is not a directory`;
}

/** `gatehouse revoke --revocations-dir`: the revocation as a file the standalone sidecars read. */
export function revokeInDirectory(
  flags: RevokeFlags,
  directory: NonNullable<RevokeFlags['directory']>,
): number {
  const applications = applicationKeys(flags.apps, flags.namespace ?? 'default');
  const before = flags.before ?? new Date().toISOString();
  const revokedBefore = before.replace(/\.\d+Z$/, 'Z');
  const expires = new Date(Date.parse(revokedBefore) + directory.maxSessionLifetimeMs);
  const spec = {
    ...flags.target,
    ...(applications.length > 0 ? { applications } : {}),
    revokedBefore,
    ...(flags.reason ? { reason: flags.reason } : {}),
  };
  const unusable = unusableDirectory(directory.path);
  if (unusable) {
    process.stderr.write(`gatehouse revoke: ${unusable}; nothing was revoked\n`);
    return 1;
  }
  let name: string;
  try {
    name = writeRevocationFile(directory.path, spec, expires, {
      prefix: revocationNamePrefix(flags.who).slice(0, -1),
    });
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (!WRITE_REFUSALS.has(code)) throw error;
    process.stderr.write(
      `gatehouse revoke: cannot write into --revocations-dir ${directory.path} (${code}: ${WRITE_REFUSALS.get(code)}); nothing was revoked\n`,
    );
    return 1;
  }
  if (flags.format === 'name') writeResult(flags, `accessrevocation.gatehouse.dev/${name}\n`);
  else if (flags.format === 'json')
    writeResult(
      flags,
      `${JSON.stringify({ name, file: `${directory.path}/${name}.yaml`, spec, expiresAt: expires.toISOString() }, null, 2)}\n`,
    );
  else
    writeResult(
      flags,
      `${directory.path}/${name}.yaml written\n${endedSentence(flags.target, flags.who, revokedBefore, false)} ${applications.length > 0 ? applications.join(', ') : 'every application'} reading ${directory.path}, within their poll interval.\n`,
    );
  return 0;
}
