import { afterAll, beforeAll } from 'vitest';
import { type HostileUpstream, startHostileUpstream } from './hostile.ts';
import { loopbackAppDir, type SidecarProcess, startSidecarProcess } from './sidecar-process.ts';

/** The built sidecar as shipped, in front of the hostile upstream. */
export interface BuiltSidecarFixture {
  readonly upstream: HostileUpstream;
  readonly sidecar: SidecarProcess;
}

/**
 * For the tests of the file that calls it: both started before them and stopped after (the
 * sidecar's lines checked against their schema as it stops). Read the fields inside tests.
 */
export function builtSidecarForFile(): BuiltSidecarFixture {
  let upstream: HostileUpstream | undefined;
  let sidecar: SidecarProcess | undefined;
  beforeAll(async () => {
    upstream = await startHostileUpstream();
    sidecar = await startSidecarProcess(loopbackAppDir(upstream.url));
  });
  afterAll(async () => {
    await sidecar?.stop();
    await upstream?.close();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the built sidecar is read before its beforeAll ran');
    return value;
  };
  return {
    get upstream() {
      return started(upstream);
    },
    get sidecar() {
      return started(sidecar);
    },
  };
}
