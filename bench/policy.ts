// Policy evaluation benchmark: one application with N policies of 10 selectors each (a mix of
// every selector kind), evaluated for a stream of varied requests. Prints per-evaluation
// latency percentiles and how the decisions were spread.
//
//   node bench/policy.ts [--policies 1000] [--requests 200000] [--seed 1]
//
// Each evaluation is timed on its own with process.hrtime.bigint() (whose own cost, about
// 40-80 ns here, is included in the numbers).
import './bench-tmpdir.ts';
import { parseArgs } from 'node:util';
import type { Selector } from '../contract/api/access-policy.ts';
import { normaliseSelector, policyErrors, type RenderedPolicy } from '../contract/config/rendered-policy.ts';
import { compilePolicyEngine } from '../sidecar/src/policy/engine.ts';
import type { PolicyIdentity, PolicyInput } from '../sidecar/src/policy/input.ts';
import { createPrng } from '../test/harness/prng.ts';

const { values } = parseArgs({
  options: {
    policies: { type: 'string', default: '1000' },
    requests: { type: 'string', default: '200000' },
    seed: { type: 'string', default: '1' },
  },
});
const policyCount = Number(values.policies);
const requestCount = Number(values.requests);

// A small deterministic generator (the harness's mulberry32), so runs are comparable.
const rng = createPrng(Number(values.seed));
const random = rng.next;
const int = rng.int;
const pick = rng.pick;
const several = <T>(list: readonly T[], n: number): T[] => Array.from({ length: n }, () => pick(list));

const USERS = Array.from({ length: 5000 }, (_, i) => `user${i}@d${i % 50}.example.com`);
const DOMAINS = Array.from({ length: 50 }, (_, i) => `d${i}.example.com`);
const GROUPS = Array.from({ length: 300 }, (_, i) => `group-${i}`);
const IDPS = ['corp', 'github', 'google'];
const SEGMENTS = ['api', 'admin', 'static', 'reports', 'users', 'settings', 'v1', 'v2', 'export', 'billing'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];
const TOKENS = Array.from({ length: 100 }, (_, i) => `token-${i}`);

const ip4 = () => `${10 + int(200)}.${int(256)}.${int(256)}.${int(256)}`;
const glob = () => {
  const depth = 1 + int(3);
  const parts = several(SEGMENTS, depth);
  const tail = pick(['', '/**', '/*', '']);
  return `/${parts.join('/')}${tail}`;
};

function requestSelector(): Selector {
  switch (int(4)) {
    case 0:
      return { ipRanges: Array.from({ length: 1 + int(4) }, () => `${10 + int(200)}.${int(256)}.0.0/16`) };
    case 1:
      return { paths: Array.from({ length: 1 + int(3) }, glob) };
    case 2:
      return { methods: several(METHODS, 1 + int(2)) };
    default:
      return { ipRanges: [`${10 + int(200)}.${int(256)}.${int(256)}.0/24`] };
  }
}

function userSelector(): Selector {
  switch (int(6)) {
    case 0:
      return { emails: several(USERS, 1 + int(20)) };
    case 1:
      return { emailDomains: several(DOMAINS, 1 + int(3)) };
    case 2:
    case 3:
      return { groups: several(GROUPS, 1 + int(5)) };
    case 4:
      return { identityProviders: [pick(IDPS)] };
    default:
      return { claim: { name: 'department', equals: pick(['eng', 'ops', 'sales', 'legal']) } };
  }
}

function machineSelector(): Selector {
  return int(2) === 0
    ? { serviceTokens: several(TOKENS, 1 + int(3)) }
    : { serviceAccounts: [{ namespace: `ns-${int(20)}`, name: pick(['*', 'build-*', 'deploy']) }] };
}

/** 10 selectors: 4 include, 4 require, 2 exclude, drawn to suit the decision. */
function makePolicy(i: number): RenderedPolicy {
  const roll = random();
  const decision = roll < 0.45 ? 'allow' : roll < 0.85 ? 'deny' : roll < 0.93 ? 'service-auth' : 'bypass';
  const identitySelector =
    decision === 'bypass' ? requestSelector : decision === 'service-auth' ? machineSelector : userSelector;
  const any = () => (int(2) === 0 ? identitySelector() : requestSelector());
  const policy: RenderedPolicy = {
    name: `bench/policy-${i}`,
    decision,
    mode: random() < 0.05 ? 'audit' : 'enforce',
    include: Array.from({ length: 4 }, identitySelector).map(normaliseSelector),
    require: Array.from({ length: 4 }, any).map(normaliseSelector),
    exclude: Array.from({ length: 2 }, any).map(normaliseSelector),
  };
  const errors = policyErrors(policy, (f) => f);
  if (errors.length > 0) throw new Error(`generated an invalid policy: ${JSON.stringify(errors)}`);
  return policy;
}

function makeIdentity(): PolicyIdentity | null {
  const roll = random();
  if (roll < 0.1) return null;
  if (roll < 0.2) {
    return {
      kind: 'service-token',
      sub: 'token',
      email: null,
      groups: [],
      idp: null,
      claims: {},
      serviceTokenId: pick(TOKENS),
      serviceAccount: null,
    };
  }
  return {
    kind: 'user',
    sub: 'u',
    email: pick(USERS),
    groups: several(GROUPS, 5 + int(25)),
    idp: pick(IDPS),
    claims: { department: pick(['eng', 'ops', 'sales', 'legal']) },
    serviceTokenId: null,
    serviceAccount: null,
  };
}

function makeRequest(): PolicyInput {
  return {
    identity: makeIdentity(),
    clientIp: ip4(),
    privateEndpoint: null,
    path: `/${several(SEGMENTS, 1 + int(4)).join('/')}`,
    method: pick(METHODS),
  };
}

const policies = Array.from({ length: policyCount }, (_, i) => makePolicy(i));
const compileStart = process.hrtime.bigint();
const engine = compilePolicyEngine(policies);
const compileMs = Number(process.hrtime.bigint() - compileStart) / 1e6;
const requests = Array.from({ length: 5000 }, makeRequest);

for (let i = 0; i < 50_000; i++) engine.evaluate(requests[i % requests.length] as PolicyInput);

const timings = new Float64Array(requestCount);
const outcomes = new Map<string, number>();
for (let i = 0; i < requestCount; i++) {
  const input = requests[i % requests.length] as PolicyInput;
  const start = process.hrtime.bigint();
  const { decision } = engine.evaluate(input);
  timings[i] = Number(process.hrtime.bigint() - start);
  const key = `${decision.action}/${decision.reason}`;
  outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
}
timings.sort();
const at = (q: number) =>
  (timings[Math.min(timings.length - 1, Math.floor(q * timings.length))] as number) / 1000;
const mean = timings.reduce((a, b) => a + b, 0) / timings.length / 1000;

console.log(
  `policies: ${policyCount} x 10 selectors; compile ${compileMs.toFixed(1)} ms; node ${process.version}`,
);
console.log(
  `evaluation µs: mean ${mean.toFixed(2)}  p50 ${at(0.5).toFixed(2)}  p90 ${at(0.9).toFixed(2)}  p99 ${at(0.99).toFixed(2)}  p99.9 ${at(0.999).toFixed(2)}  max ${at(1).toFixed(1)}`,
);
const top = [...outcomes.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
console.log(`decisions: ${top.map(([k, n]) => `${k} ${((100 * n) / requestCount).toFixed(1)}%`).join(', ')}`);
