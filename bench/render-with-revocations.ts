// What one sign-out costs the render of its application's config, in the operator (each recorded
// session end re-renders the application) and in a standalone sidecar (each new file in its
// revocations directory reloads it): an application with N session-end AccessRevocations in
// force, read as the operator's cache and a standalone sidecar's load cache keep them (the same
// reading of an unchanged AccessRevocation from one render to the next), then one more end per
// render. Prints milliseconds per render (revocationsFor and renderSidecarConfig: sorting,
// freezing and hashing the config for its generation), medians of the rounds. `--policies`
// gives the application that many AccessPolicies besides (each allows one group on its own
// paths), for what a render costs as the policies grow.
//
//   node bench/render-with-revocations.ts [--revocations 1000,8000] [--policies 0] [--renders 200] [--rounds 5]
import './bench-tmpdir.ts';
import { parseArgs } from 'node:util';
import { renderSidecarConfig } from '../contract/config/render.ts';
import { assertionAlgorithm } from '../contract/config/render-auth.ts';
import { type RevocationView, revocationsFor, sessionLifetimeMs } from '../contract/revocations.ts';
import { TEST_KEYS, testApplication } from '../test/helpers/fixtures.ts';

const { values } = parseArgs({
  options: {
    revocations: { type: 'string', default: '1000,8000' },
    policies: { type: 'string', default: '0' },
    renders: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '5' },
  },
});
const COUNTS = values.revocations.split(',').map(Number);
const RENDERS = Number(values.renders);
const ROUNDS = Number(values.rounds);
const POLICIES = values.policies.split(',').map(Number);
if (POLICIES.some((n) => !Number.isInteger(n) || n < 0)) {
  console.error(`bench: --policies: counts of policies, e.g. 0,1000 (got ${values.policies})`);
  process.exit(2);
}

/** The application with `count` AccessPolicies (each allows one group on its own paths), as a render reads them. */
function applicationWith(count: number) {
  const names = Array.from({ length: count }, (_, i) => `team-${i}`);
  const application = testApplication({
    hosts: ['wiki.example.com'],
    policies: names.map((name) => ({ name })),
    authentication: {
      externalUrl: 'https://wiki.example.com',
      identityProviders: [
        {
          name: 'corp',
          issuer: 'https://id.example.com',
          clientId: 'wiki',
          clientSecretRef: { name: 'idp', key: 'secret' },
        },
      ],
    },
  } as never);
  const namespace = application.metadata.namespace;
  const policies = new Map(
    names.map((name) => [
      name,
      {
        value: {
          apiVersion: 'gatehouse.dev/v1alpha1',
          kind: 'AccessPolicy',
          metadata: { name, namespace },
          spec: { decision: 'allow', include: [{ groups: [name] }], require: [{ paths: [`/${name}/**`] }] },
        },
      },
    ]),
  );
  return { application, policies };
}
const { application } = applicationWith(0);
const keys = TEST_KEYS(assertionAlgorithm(application.spec.authentication));
const KEY = `${application.metadata.namespace ?? 'default'}/${application.metadata.name}`;
const LIFETIME = sessionLifetimeMs(application);
const NOW = Math.floor(Date.now() / 1000);

/** The reading of the `i`th sign-out's AccessRevocation, as the operator's cache keeps it. */
const view = (i: number): RevocationView => ({
  name: `session-end-${i.toString(16).padStart(20, '0')}`,
  user: null,
  subject: null,
  provider: null,
  session: `s${i.toString(16).padStart(21, '0')}`,
  before: NOW - 60,
  reason: 'signed out',
  applications: new Set([KEY]),
});

function round(count: number, policyCount: number): number {
  const views = Array.from({ length: count }, (_, i) => view(i));
  const { application, policies } = applicationWith(policyCount);
  const render = (): void => {
    const result = renderSidecarConfig({
      application,
      policies: policies as never,
      secrets: new Map([['idp', { secret: 's' }]]) as never,
      keys,
      revocations: revocationsFor(KEY, LIFETIME, views, new Date()),
    });
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
  };
  render(); // the first render of the round reads every revocation once
  const started = performance.now();
  for (let i = 0; i < RENDERS; i++) {
    views.push(view(count + i));
    render();
  }
  return (performance.now() - started) / RENDERS;
}

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

process.stdout.write(
  `node ${process.version}; ${RENDERS} renders a round, one more sign-out each; medians of ${ROUNDS} rounds\n\n`,
);
process.stdout.write('| policies | revocations in force | ms per render |\n|---:|---:|---:|\n');
for (const policyCount of POLICIES)
  for (const count of COUNTS) {
    const times = Array.from({ length: ROUNDS }, () => round(count, policyCount));
    process.stdout.write(`| ${policyCount} | ${count} | ${median(times).toFixed(2)} |\n`);
  }
