import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFECT_EXIT_CODE } from '../../lib/defects.ts';
import { startOperatorProcess } from '../helpers/operator-process.ts';
import {
  PLANTED_CREDENTIAL,
  PLANTED_REJECTION,
  PLANTED_REJECTION_LOGGED,
  PLANTED_THROW,
  plantedDefect,
} from '../helpers/planted-defect.ts';

// An error nothing in the operator handles ends it, as Node.js would end it; before, the reason
// went to stderr as text only, beside a log stream of JSON lines that alerting reads. The built
// operator with a defect planted by a module loaded before it; its API server does not answer
// (the defect needs none).

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-operator-failure-'));
writeFileSync(
  join(dir, 'kubeconfig'),
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'none', cluster: { server: 'https://127.0.0.1:9' } }],
    users: [{ name: 'operator', user: { token: 'not-used' } }],
    contexts: [{ name: 'none', context: { cluster: 'none', user: 'operator' } }],
    'current-context': 'none',
  }),
);

describe('an operator defect', () => {
  it.each([
    ['SIGUSR2', 'uncaught_exception', `Error: ${PLANTED_THROW}`, PLANTED_THROW],
    // The rejection quotes a credential: neither the log line nor stderr carries it.
    ['SIGWINCH', 'unhandled_rejection', PLANTED_REJECTION_LOGGED, `${PLANTED_REJECTION} Bearer [credential]`],
  ] as const)(
    `(%s: %s) is a line on the log stream, then exit ${DEFECT_EXIT_CODE}`,
    async (signal, origin, error, printed) => {
      const operator = await startOperatorProcess(
        [
          `--kubeconfig=${join(dir, 'kubeconfig')}`,
          '--listen=127.0.0.1:0',
          '--admin-listen=127.0.0.1:0',
          '--tls-hosts=127.0.0.1',
        ],
        { POD_NAMESPACE: 'gatehouse-system' },
        plantedDefect(),
      );
      const exited = new Promise<number | null>((resolve) =>
        operator.child.on('exit', (code) => resolve(code)),
      );
      operator.child.kill(signal);
      expect(await exited).toBe(DEFECT_EXIT_CODE);
      // Every line it wrote matches its schema (checked by stop), the failure among them.
      expect(await operator.stop()).toBe(DEFECT_EXIT_CODE);
      const failed = operator.lines.filter((line) => line.type === 'operator_failed');
      expect(failed).toEqual([expect.objectContaining({ origin, error })]);
      const stack = (failed[0]?.stack ?? []) as string[];
      expect(stack[0]).toContain('planted-defect.mjs');
      expect(operator.stderr()).toContain(printed);
      expect(JSON.stringify(operator.lines)).not.toContain(PLANTED_CREDENTIAL);
      expect(operator.stderr()).not.toContain(PLANTED_CREDENTIAL);
    },
  );
});
