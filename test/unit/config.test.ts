import { describe, expect, it } from 'vitest';
import { renderSidecarConfig } from '../../contract/config/render.ts';
import { MAX_REVOCATIONS, parseSidecarConfig } from '../../contract/config/sidecar-config.ts';
import { ConfigError, locatedPath } from '../../contract/errors.ts';
import { generateApplicationKeys } from '../../contract/keys.ts';
import { configFromSnapshot } from '../../sidecar/src/config/load-application.ts';
import { MAX_SYNTAX_ERRORS_PER_FILE } from '../../sidecar/src/config/load-documents.ts';
import { testApplication, testConfig, testRevocation } from '../helpers/fixtures.ts';

function errorsOf(files: Record<string, string>, application?: string): string[] {
  try {
    configFromSnapshot({ files: new Map(Object.entries(files)) }, application ? { application } : {});
  } catch (error) {
    if (error instanceof ConfigError) return error.errors.map((e) => `${e.path}: ${e.message}`);
    throw error;
  }
  return [];
}

const HEADER = 'apiVersion: gatehouse.dev/v1alpha1\nkind: AccessApplication\nmetadata: {name: app}\n';

describe('loading AccessApplication YAML', () => {
  it('renders a minimal application with defaults', () => {
    const config = configFromSnapshot({
      files: new Map([
        [
          '/x/app.yaml',
          `${HEADER}spec:\n  hosts: [app.example.com]\n  upstream: {url: 'http://127.0.0.1:8080'}\n`,
        ],
      ]),
    });
    expect(config).toMatchObject({
      format: 1,
      application: { name: 'app', namespace: '' },
      hosts: ['app.example.com'],
      upstream: {
        origin: 'http://127.0.0.1:8080',
        connectTimeoutMs: 5000,
        responseHeadersTimeoutMs: 30000,
        idleTimeoutMs: 60000,
        maxConnections: 128,
      },
      requestId: { header: 'x-request-id', trustIncoming: true },
      logging: { profile: 'native' },
    });
    expect(config.generation).toMatch(/^[0-9a-f]{16}$/);
    expect(Object.isFrozen(config.upstream)).toBe(true);
    // Rendered only when set: a sidecar of an earlier version refuses a config with a field it does not know.
    expect('maxResponseHeaderBytes' in config.upstream).toBe(false);
    expect('caseInsensitivePaths' in config.upstream).toBe(false);
    const folding = configFromSnapshot({
      files: new Map([
        [
          '/x/app.yaml',
          `${HEADER}spec:\n  hosts: [app.example.com]\n  upstream: {url: 'http://127.0.0.1:8080', caseInsensitivePaths: true}\n`,
        ],
      ]),
    });
    expect(folding.upstream.caseInsensitivePaths).toBe(true);
    expect(parseSidecarConfig(JSON.parse(JSON.stringify(folding))).upstream.caseInsensitivePaths).toBe(true);
  });

  it('renders upstream.maxResponseHeaderBytes when set, and refuses one outside 1 KiB to 1 MiB', () => {
    const render = (value: number) =>
      configFromSnapshot({
        files: new Map([
          [
            '/x/app.yaml',
            `${HEADER}spec:\n  hosts: [app.example.com]\n  upstream: {url: 'http://127.0.0.1:8080', maxResponseHeaderBytes: ${value}}\n`,
          ],
        ]),
      });
    expect(render(65_536).upstream.maxResponseHeaderBytes).toBe(65_536);
    expect(
      errorsOf({
        'app.yaml': `${HEADER}spec:\n  hosts: [a.test]\n  upstream: {url: 'http://a:1', maxResponseHeaderBytes: 512}\n`,
      }),
    ).toEqual(['app.yaml#1 spec.upstream.maxResponseHeaderBytes: must be >= 1024']);
  });

  const cases: [string, string, string[]][] = [
    [
      'missing spec fields',
      `${HEADER}spec: {}\n`,
      ['app.yaml#1 spec.hosts: is required', 'app.yaml#1 spec.upstream: is required'],
    ],
    [
      'every wrong field at once',
      `${HEADER}spec:\n  hosts: []\n  upstream: {url: 'http://a:1', timeouts: {connect: soon}, maxConnections: 0}\n  trustedProxies: ['10.0.0.0/33', 'nope']\n  logging: {profile: splunk, requestHeaders: [Cookie]}\n  extra: 1\n`,
      [
        'app.yaml#1 spec.extra: unknown field',
        'app.yaml#1 spec.hosts: must not have fewer than 1 items',
        'app.yaml#1 spec.upstream.timeouts.connect: must be a duration such as 500ms, 30s, 5m or 1h30m (got "soon")',
        'app.yaml#1 spec.upstream.maxConnections: must be >= 1',
        'app.yaml#1 spec.logging.profile: must be one of: native, cloudflare (got "splunk")',
      ],
    ],
    [
      'a number or a yes/no where a duration, a host or a name goes: what it must be, not only a string',
      `apiVersion: gatehouse.dev/v1alpha1\nkind: AccessApplication\nmetadata: {name: 1234}\nspec:\n  hosts: [8080]\n  upstream: {url: 'http://a:1', timeouts: {connect: 5, idle: false}}\n  logging: {requestHeaders: [true]}\n`,
      [
        'app.yaml#1 metadata.name: must be a DNS subdomain name: lower-case letters, digits, - and ., starting and ending with a letter or digit (got the number 1234)',
        'app.yaml#1 spec.hosts[0]: must be a lower-case host name, optionally *. in front and :port after, e.g. wiki.example.com or *.example.com:8443 (got the number 8080)',
        'app.yaml#1 spec.upstream.timeouts.connect: must be a duration such as 500ms, 30s, 5m or 1h30m, with its unit (got the number 5)',
        'app.yaml#1 spec.upstream.timeouts.idle: must be a duration such as 500ms, 30s, 5m or 1h30m, with its unit (got the boolean false)',
        "app.yaml#1 spec.logging.requestHeaders[0]: must be an HTTP header name: letters, digits and !#$%&'*+.^_`|~- (got the boolean true)",
      ],
    ],
    [
      'a misspelt field, in another case or with a typo',
      `${HEADER}spec:\n  hosts: [a.example.com]\n  upstream: {url: 'http://a:1', timeout: {connect: 5s}}\n  Policies: []\n  upstrem: x\n`,
      [
        'app.yaml#1 spec.Policies: unknown field; did you mean policies?',
        'app.yaml#1 spec.upstrem: unknown field; did you mean upstream?',
        'app.yaml#1 spec.upstream.timeout: unknown field; did you mean timeouts?',
      ],
    ],
    [
      'a host in upper case or outside ASCII, a name in upper case: the form to write',
      `apiVersion: gatehouse.dev/v1alpha1\nkind: AccessApplication\nmetadata: {name: Wiki}\nspec:\n  hosts: [bücher.example, 'Wiki.Example.COM:8443', '*.Ünï.example', 'a b']\n  upstream: {url: 'http://a:1'}\n`,
      [
        'app.yaml#1 metadata.name: must be a DNS subdomain name: lower-case letters, digits, - and ., starting and ending with a letter or digit (got "Wiki"; write "wiki")',
        'app.yaml#1 spec.hosts[0]: must be a lower-case host name, optionally *. in front and :port after, e.g. wiki.example.com or *.example.com:8443 (got "bücher.example"; write "xn--bcher-kva.example")',
        'app.yaml#1 spec.hosts[1]: must be a lower-case host name, optionally *. in front and :port after, e.g. wiki.example.com or *.example.com:8443 (got "Wiki.Example.COM:8443"; write "wiki.example.com:8443")',
        'app.yaml#1 spec.hosts[2]: must be a lower-case host name, optionally *. in front and :port after, e.g. wiki.example.com or *.example.com:8443 (got "*.Ünï.example"; write "*.xn--n-nga1b.example")',
        'app.yaml#1 spec.hosts[3]: must be a lower-case host name, optionally *. in front and :port after, e.g. wiki.example.com or *.example.com:8443 (got "a b")',
      ],
    ],
    [
      'semantic errors after the schema passes',
      `${HEADER}spec:\n  hosts: [a.test]\n  upstream: {url: 'http://u:p@a.test:1/path'}\n  trustedProxies: ['10.0.0.0/33', '::1', 'nope']\n  proxyProtocol: {from: ['10.0.0.0/8x']}\n  logging: {requestHeaders: [Cookie, referer]}\n`,
      [
        'app.yaml#1 spec.upstream.url: must not contain credentials',
        'app.yaml#1 spec.upstream.url: must be an origin only (scheme, host, port), without path or query',
        'app.yaml#1 spec.trustedProxies[0]: is not an IP address or CIDR range (got "10.0.0.0/33")',
        'app.yaml#1 spec.trustedProxies[2]: is not an IP address or CIDR range (got "nope")',
        'app.yaml#1 spec.proxyProtocol.from[0]: is not an IP address or CIDR range (got "10.0.0.0/8x")',
        'app.yaml#1 spec.logging.requestHeaders[0]: cookie carries credentials and is never logged',
      ],
    ],
    [
      'wrong kind',
      'apiVersion: gatehouse.dev/v1alpha1\nkind: AccessThing\nmetadata: {name: a}\n',
      [
        'app.yaml#1 kind: must be one of: AccessApplication, AccessPolicy, AccessRevocation (got "AccessThing")',
        '(config): no AccessApplication found',
      ].slice(0, 1),
    ],
    ['YAML syntax', 'a: [1, 2\n', ['app.yaml:2:1']],
    [
      'not an object',
      '- 1\n- 2\n',
      ['app.yaml#1: must be a Kubernetes object (a mapping with apiVersion and kind)'],
    ],
  ];
  it.each(cases)('%s: every error is reported with its path', (_name, text, expected) => {
    const errors = errorsOf({ '/x/app.yaml': text });
    for (const e of expected) expect(errors.some((line) => line.startsWith(e))).toBe(true);
  });

  // A schema error in one field hid render's checks of every other: a user fixed it, validated
  // again and only then learnt of a bad address or URL elsewhere (three rounds for this file).
  it('a document that fails its schema: render\u2019s checks of its other fields in the same pass, none twice', () => {
    const policy = [
      'apiVersion: gatehouse.dev/v1alpha1',
      'kind: AccessPolicy',
      'metadata: {name: office}',
      'spec:',
      '  decision: bypass',
      '  include:',
      '    - ipRanges: ["10.0.0.0/33", "10.0.0.0/8"]',
      '    - paths: ["/a/../b", "no-slash"]',
      '    - emails: ["Ann@Example.com"]',
      '    - paths: ["/x/../y"]',
      '  require:',
      '    - groups: []',
    ].join('\n');
    const app = `${HEADER}spec:
  hosts: ["Wiki.Example.com"]
  upstream:
    url: http://127.0.0.1:8080/base
    timeouts: {connect: 2s, responseHeaders: 48h, idle: 90d}
  trustedProxies: ["10.0.0.0/8", "bogus", 7]
  logging: {requestHeaders: [Authorization, referer]}
  policies: [{name: office}]
`;
    expect(errorsOf({ '/x/app.yaml': `${app}---\n${policy}\n` }).sort()).toEqual(
      [
        'app.yaml#1 spec.hosts[0]: must be a lower-case host name, optionally *. in front and :port after, e.g. wiki.example.com or *.example.com:8443 (got "Wiki.Example.com"; write "wiki.example.com")',
        'app.yaml#1 spec.upstream.url: must be an origin only (scheme, host, port), without path or query',
        'app.yaml#1 spec.upstream.timeouts.responseHeaders: is not a duration between 0s and 24h (got "48h")',
        'app.yaml#1 spec.upstream.timeouts.idle: must be a duration such as 500ms, 30s, 5m or 1h30m (got "90d")',
        'app.yaml#1 spec.trustedProxies[1]: is not an IP address or CIDR range (got "bogus")',
        'app.yaml#1 spec.trustedProxies[2]: must be string (got number)',
        'app.yaml#1 spec.logging.requestHeaders[0]: authorization carries credentials and is never logged',
        'app.yaml#2 spec.include[0].ipRanges[0]: is not an IP address or CIDR range (got "10.0.0.0/33")',
        'app.yaml#2 spec.include[1].paths[1]: must be a path starting with / (got "no-slash")',
        'app.yaml#2 spec.include[2].emails: a bypass policy cannot test identity (a bypassed request has none); use everyone, ipRanges, paths or methods',
        'app.yaml#2 spec.include[3].paths[0]: is not in canonical form (requests are matched as "/y") (got "/x/../y")',
        'app.yaml#2 spec.require[0].groups: must not have fewer than 1 items',
      ].sort(),
    );
    // Its schema errors fixed: render says the same of the same fields, and now of the selectors
    // the schema refused (checked once they pass it).
    const fixed = `${app}---\n${policy}\n`
      .replace('"Wiki.Example.com"', 'wiki.example.com')
      .replace(', 7]', ']')
      .replace('idle: 90d', 'idle: 90s')
      .replace('"no-slash"', '"/ok"')
      .replace('groups: []', 'groups: [sre]');
    expect(errorsOf({ '/x/app.yaml': fixed }).sort()).toEqual(
      [
        'app.yaml#1 spec.upstream.url: must be an origin only (scheme, host, port), without path or query',
        'app.yaml#1 spec.upstream.timeouts.responseHeaders: is not a duration between 0s and 24h (got "48h")',
        'app.yaml#1 spec.trustedProxies[1]: is not an IP address or CIDR range (got "bogus")',
        'app.yaml#1 spec.logging.requestHeaders[0]: authorization carries credentials and is never logged',
        'app.yaml#2 spec.include[0].ipRanges[0]: is not an IP address or CIDR range (got "10.0.0.0/33")',
        'app.yaml#2 spec.include[1].paths[0]: is not in canonical form (requests are matched as "/b") (got "/a/../b")',
        'app.yaml#2 spec.include[3].paths[0]: is not in canonical form (requests are matched as "/y") (got "/x/../y")',
        'app.yaml#2 spec.include[2].emails: a bypass policy cannot test identity (a bypassed request has none); use everyone, ipRanges, paths or methods',
        'app.yaml#2 spec.require[0].groups: a bypass policy cannot test identity (a bypassed request has none); use everyone, ipRanges, paths or methods',
      ].sort(),
    );
  });

  it('a policy of any shape that fails its schema: its errors, never a crash of the checks past it', () => {
    const shapes = [
      '{}',
      'null',
      '"x"',
      '{paths: 5}',
      '{unknownKey: []}',
      "{ipRanges: ['10.0.0.0/8'], paths: ['/']}",
      '{claim: {}}',
      '{claim: {name: dept}}',
      "{emails: [5, 'a@b.c']}",
      "{methods: ['get']}",
      '{everyone: false}',
    ];
    for (const shape of shapes)
      for (const decision of ['allow', '7', 'bypass']) {
        const text = `apiVersion: gatehouse.dev/v1alpha1\nkind: AccessPolicy\nmetadata: {name: p}\nspec:\n  decision: ${decision}\n  include: [${shape}, {ipRanges: ['10.0.0.0/33']}]\n  exclude: ${shape}\n`;
        const errors = errorsOf({ '/x/p.yaml': text });
        expect([shape, decision, errors.length > 0]).toEqual([shape, decision, true]);
        // The selector that passed its schema is still checked.
        expect(errors).toContain(
          'p.yaml#1 spec.include[1].ipRanges[0]: is not an IP address or CIDR range (got "10.0.0.0/33")',
        );
      }
  });

  it('an application of any shape that fails its schema: its errors, never a crash of the checks past it', () => {
    const specs = [
      '5',
      'null',
      '[]',
      '{hosts: [a.test]}',
      '{hosts: [a.test], upstream: [], trustedProxies: x}',
      "{hosts: [a.test], upstream: {url: 5, timeouts: []}, trustedProxies: [null, 'bogus'], proxyProtocol: 3}",
      "{hosts: [A], upstream: {url: 'http://[::1', timeouts: {idle: 5}}, logging: {requestHeaders: x}}",
      "{hosts: [A], upstream: {url: 'ftp://u:p@x/y?z'}, proxyProtocol: {from: [1, 'nope']}, logging: []}",
    ];
    for (const spec of specs) {
      const errors = errorsOf({ '/x/app.yaml': `${HEADER}spec: ${spec}\n` });
      expect([spec, errors.length > 0]).toEqual([spec, true]);
    }
    expect(
      errorsOf({
        '/x/app.yaml': `${HEADER}spec: {hosts: [A], upstream: {url: 'ftp://u:p@x/y?z'}, proxyProtocol: {from: [1, 'nope']}}\n`,
      }).filter((e) => !e.includes('spec.hosts')),
    ).toEqual([
      // The schema's word on the URL, and not render's on the same field again.
      'app.yaml#1 spec.upstream.url: must be an http:// or https:// URL (got "ftp://u:p@x/y?z")',
      'app.yaml#1 spec.proxyProtocol.from[0]: must be string (got number)',
      'app.yaml#1 spec.proxyProtocol.from[1]: is not an IP address or CIDR range (got "nope")',
    ]);
  });

  it('a file that is not YAML at all: its first syntax errors, short, and how many more', () => {
    // Random bytes, as a binary or an archive left in the config directory reads.
    let seed = 7;
    const bytes = Buffer.alloc(20_000, 0).map(() => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed >> 16;
    });
    const errors = errorsOf({
      '/x/blob.yaml': Buffer.from(bytes).toString('latin1'),
      '/x/app.yaml': 'a: [1, 2\n',
    });
    const blob = errors.filter((e) => e.startsWith('blob.yaml'));
    expect(blob).toHaveLength(MAX_SYNTAX_ERRORS_PER_FILE + 1);
    expect(blob.at(-1)).toMatch(
      /^blob\.yaml: \d+ more YAML syntax errors \(\d+ in all: is it a YAML file\?\)$/,
    );
    for (const e of blob) expect(e.length).toBeLessThan(260);
    // The other file's error is still told.
    expect(errors.some((e) => e.startsWith('app.yaml:2:1'))).toBe(true);
  });

  it('ignores other Kubernetes objects in the same files', () => {
    const files = {
      '/x/a.yaml': `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n---\n${HEADER}spec: {hosts: [a.test], upstream: {url: 'http://127.0.0.1:1'}}\n`,
    };
    expect(errorsOf(files)).toEqual([]);
  });

  it('reads what kubectl get -o yaml writes: a List, its objects as documents of their own', () => {
    const items = [
      `- apiVersion: gatehouse.dev/v1alpha1
  kind: AccessApplication
  metadata: {name: app, namespace: team, uid: 0b1c, resourceVersion: "12", generation: 3}
  spec:
    hosts: [a.test]
    upstream: {url: 'http://127.0.0.1:1'}
    policies: [{name: p}]
    authentication:
      externalUrl: https://a.test
      identityProviders: [{name: corp, issuer: 'https://idp.test', clientId: a, clientSecretRef: {name: idp, key: secret}}]
  status: {conditions: [{type: Ready, status: "True", reason: Rendered, message: ok, lastTransitionTime: "2026-12-06T09:00:00Z"}]}`,
      `- apiVersion: gatehouse.dev/v1alpha1
  kind: AccessPolicy
  metadata: {name: p, namespace: team, resourceVersion: "13"}
  spec: {decision: allow, include: [{emails: [ann@example.com]}]}`,
      `- apiVersion: gatehouse.dev/v1alpha1
  kind: AccessRevocation
  metadata: {name: r, namespace: team, creationTimestamp: "2026-12-06T10:00:00Z"}
  spec: {user: bob@example.com, applications: [team/app]}`,
      `- apiVersion: v1
  kind: Secret
  metadata: {name: idp, namespace: team}
  data: {secret: czNjcmV0}`,
    ];
    const list = `apiVersion: v1\nkind: List\nmetadata: {resourceVersion: ""}\nitems:\n${items.join('\n')}\n`;
    const documents = items.map((item) => item.slice(2).replaceAll('\n  ', '\n')).join('\n---\n');
    const keys = generateApplicationKeys('ES256');
    const select = { now: () => new Date('2026-12-06T11:00:00Z'), fallbackKeys: () => keys };
    const fromList = configFromSnapshot({ files: new Map([['/x/live.yaml', list]]) }, select);
    const fromDocuments = configFromSnapshot({ files: new Map([['/x/live.yaml', documents]]) }, select);
    // A revocation the cluster made has its creation time for cut-off, as in the cluster.
    expect(fromList.revocations).toEqual([expect.objectContaining({ name: 'r', user: 'bob@example.com' })]);
    expect(fromList.revocations[0]?.before).toBe(Date.parse('2026-12-06T10:00:00Z') / 1000);
    expect(fromList.policies.map((p) => p.name)).toEqual(['team/p']);
    expect(fromList).toEqual(fromDocuments);
    // The API's own list kind (a GET of the collection) is read the same way.
    const typed = list.replace(
      'apiVersion: v1\nkind: List',
      'apiVersion: gatehouse.dev/v1alpha1\nkind: AccessApplicationList',
    );
    expect(configFromSnapshot({ files: new Map([['/x/live.yaml', typed]]) }, select)).toEqual(fromDocuments);
  });

  it('an error in a List item is told at its line, column and field; a broken List is told', () => {
    const list = `apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: d}
- apiVersion: gatehouse.dev/v1alpha1
  kind: AccessApplication
  metadata: {name: app}
  spec:
    hosts: []
    upstream: {url: 'http://127.0.0.1:1'}
- apiVersion: v1
  kind: List
  items: []
- 7
`;
    const failed = (() => {
      try {
        configFromSnapshot({ files: new Map([['/x/live.yaml', list]]) });
      } catch (error) {
        if (error instanceof ConfigError) return error.errors.map(locatedPath);
      }
      return [];
    })();
    expect(failed).toEqual(
      expect.arrayContaining(['live.yaml:11:5 spec.hosts', 'live.yaml:13:3 items[2]', 'live.yaml:16:3']),
    );
    expect(failed).toHaveLength(3);
    expect(errorsOf({ '/x/live.yaml': list })).toContain(
      'live.yaml#1 items[2]: is a List inside a List, which is not read',
    );
    const revocation = (metadata: string) =>
      `apiVersion: gatehouse.dev/v1alpha1\nkind: AccessRevocation\nmetadata: {name: r${metadata}}\nspec: {user: bob@example.com}\n`;
    expect(errorsOf({ '/x/r.yaml': revocation(', creationTimestamp: yesterday') })).toEqual([
      'r.yaml#1 metadata.creationTimestamp: must be a time such as 2026-12-06T10:00:00Z (got "yesterday")',
    ]);
    expect(errorsOf({ '/x/r.yaml': revocation('') })[0]).toMatch(
      /^r\.yaml#1 spec: revokedBefore is required in a file/,
    );
    expect(errorsOf({ '/x/broken.yaml': 'apiVersion: v1\nkind: List\nitems: 3\n' })).toEqual([
      'broken.yaml#1 items: must be a list of Kubernetes objects',
    ]);
  });

  it('requires --application when several applications are defined, and honours it', () => {
    const two = {
      '/x/a.yaml': `${HEADER}spec: {hosts: [a.test], upstream: {url: 'http://127.0.0.1:1'}}\n---\n${HEADER.replace('name: app', 'name: other')}spec: {hosts: [b.test], upstream: {url: 'http://127.0.0.1:2'}}\n`,
    };
    expect(errorsOf(two)[0]).toContain('several AccessApplications (app, other)');
    expect(errorsOf(two, 'other')).toEqual([]);
    expect(errorsOf(two, 'missing')[0]).toContain('no AccessApplication named "missing"');
  });

  it('an application defined twice in one namespace is an error at the second', () => {
    const app = `${HEADER}spec: {hosts: [a.test], upstream: {url: 'http://127.0.0.1:1'}}\n`;
    expect(errorsOf({ '/x/a.yaml': `${app}---\n${app}` })).toEqual([
      'a.yaml#2 metadata.name: AccessApplication "app" is already defined at a.yaml#1',
    ]);
  });

  it('the same name in two namespaces: never one of them picked silently; namespace/name chooses', () => {
    const app = (namespace: string, port: number) =>
      `apiVersion: gatehouse.dev/v1alpha1\nkind: AccessApplication\nmetadata: {name: wiki, namespace: ${namespace}}\nspec: {hosts: [${namespace}.test], upstream: {url: 'http://127.0.0.1:${port}'}}\n`;
    const files = { '/x/a.yaml': `${app('production', 1)}---\n${app('staging', 2)}` };
    expect(errorsOf(files, 'wiki')).toEqual([
      '(config): several AccessApplications named "wiki" (production/wiki, staging/wiki); give namespace/name',
    ]);
    const staging = configFromSnapshot(
      { files: new Map(Object.entries(files)) },
      { application: 'staging/wiki' },
    );
    expect(staging.upstream.origin).toBe('http://127.0.0.1:2');
    expect(errorsOf(files, 'qa/wiki')).toEqual(['(config): no AccessApplication named "qa/wiki"']);
  });
});

describe('loading AccessPolicy YAML', () => {
  const POLICY = 'apiVersion: gatehouse.dev/v1alpha1\nkind: AccessPolicy\n';
  const app = (policies: string) =>
    `${HEADER}spec: {hosts: [a.test], upstream: {url: 'http://127.0.0.1:1'}, policies: ${policies}}\n`;

  it('privateEndpoints in an application behind a balancer of spec.proxyProtocol: loaded', () => {
    const config = configFromSnapshot({
      files: new Map([
        [
          '/x/app.yaml',
          `${HEADER}spec: {hosts: [a.test], upstream: {url: 'http://127.0.0.1:1'}, proxyProtocol: {from: [10.0.1.17/32]}, policies: [{name: partners}]}\n---\n${POLICY}metadata: {name: partners}\nspec: {decision: bypass, include: [{privateEndpoints: ['aws:vpce-0a1', 'gcp:7']}]}\n`,
        ],
      ]),
    });
    expect(config.policies[0]?.include).toEqual([{ privateEndpoints: ['aws:vpce-0a1', 'gcp:7'] }]);
  });

  it('resolves the listed policies in order, with normalised values', () => {
    const config = configFromSnapshot({
      files: new Map([
        [
          '/x/app.yaml',
          `${app('[{name: b}, {name: a}]')}---\n${POLICY}metadata: {name: a}\nspec: {decision: allow, include: [{emails: [Ann@Example.com]}]}\n---\n${POLICY}metadata: {name: b}\nspec: {decision: deny, mode: audit, include: [{paths: ['/admin/**']}]}\n`,
        ],
      ]),
    });
    expect(config.policies.map((p) => [p.name, p.decision, p.mode])).toEqual([
      ['b', 'deny', 'audit'],
      ['a', 'allow', 'enforce'],
    ]);
    expect(config.policies[1]?.include).toEqual([{ emails: ['ann@example.com'] }]);
  });

  const cases: [string, string, string[]][] = [
    [
      'a missing or repeated policy reference',
      `${app('[{name: gone}, {name: a}, {name: a}]')}---\n${POLICY}metadata: {name: a}\nspec: {decision: bypass, include: [{everyone: true}]}\n`,
      [
        'app.yaml#1 spec.policies[0].name: no AccessPolicy named "gone"',
        'app.yaml#1 spec.policies[2].name: lists "a" twice',
      ],
    ],
    [
      'errors located in the policy document',
      `${app('[{name: a}]')}---\n${POLICY}metadata: {name: a}\nspec: {decision: bypass, include: [{ipRanges: [10.0.0.0/40]}, {emails: [x@y.com]}]}\n`,
      [
        'app.yaml#2 spec.include[0].ipRanges[0]: is not an IP address or CIDR range (got "10.0.0.0/40")',
        'app.yaml#2 spec.include[1].emails: a bypass policy cannot test identity',
      ],
    ],
    [
      'private endpoints: a bare VPC endpoint id, an unknown cloud, a number no header carries',
      `${app('[{name: a}]')}---\n${POLICY}metadata: {name: a}\nspec: {decision: bypass, include: [{privateEndpoints: [vpce-0a1, 'oci:1', 'aws:vpce-0a1', 'azure:4294967296', 'gcp:18446744073709551616', 'gcp:01']}]}\n`,
      [
        'app.yaml#2 spec.include[0].privateEndpoints[0]: must be a private endpoint: aws:<VPC endpoint id> (aws:vpce-0123456789abcdef0), azure:<LinkID> or gcp:<connection id>, numbers in decimal without leading zeros (got "vpce-0a1"; write "aws:vpce-0a1")',
        'app.yaml#2 spec.include[0].privateEndpoints[1]: must be a private endpoint: aws:<VPC endpoint id> (aws:vpce-0123456789abcdef0), azure:<LinkID> or gcp:<connection id>, numbers in decimal without leading zeros (got "oci:1")',
        'app.yaml#2 spec.include[0].privateEndpoints[5]: must be a private endpoint: aws:<VPC endpoint id> (aws:vpce-0123456789abcdef0), azure:<LinkID> or gcp:<connection id>, numbers in decimal without leading zeros (got "gcp:01")',
      ],
    ],
    [
      'privateEndpoints in an application without spec.proxyProtocol: never matched, a deny of one never denies',
      `${app('[{name: open}, {name: block-partner}]')}---\n${POLICY}metadata: {name: open}\nspec: {decision: bypass, include: [{everyone: true}]}\n---\n${POLICY}metadata: {name: block-partner}\nspec: {decision: deny, include: [{paths: ['/x']}, {privateEndpoints: ['aws:vpce-0a1']}], exclude: [{privateEndpoints: ['gcp:7']}]}\n`,
      [
        'app.yaml#1 spec.policies[1].name: "block-partner" tests privateEndpoints (include[1], exclude[0]), which no connection names without spec.proxyProtocol: list the load balancers there',
      ],
    ],
    [
      'a private endpoint number no PROXY header carries (after the schema passes)',
      `${app('[{name: a}]')}---\n${POLICY}metadata: {name: a}\nspec: {decision: bypass, include: [{privateEndpoints: ['azure:4294967296', 'gcp:18446744073709551615']}]}\n`,
      [
        'app.yaml#2 spec.include[0].privateEndpoints[0]: is over the largest LinkID (4294967295) (got "azure:4294967296")',
      ],
    ],
    [
      'schema errors: unknown decision, two fields in one selector, empty include',
      `${POLICY}metadata: {name: a}\nspec: {decision: permit, include: []}\n---\n${POLICY}metadata: {name: b}\nspec: {decision: deny, include: [{everyone: true, methods: [GET]}, {claim: {name: x}}]}\n`,
      [
        'app.yaml#1 spec.decision: must be one of: allow, deny, bypass, service-auth (got "permit")',
        'app.yaml#1 spec.include:',
        'app.yaml#2 spec.include[0]: must have exactly one field (got everyone, methods)',
      ],
    ],
    [
      'the same policy defined twice',
      `${POLICY}metadata: {name: a}\nspec: {decision: deny, include: [{everyone: true}]}\n---\n${POLICY}metadata: {name: a}\nspec: {decision: deny, include: [{everyone: true}]}\n`,
      ['app.yaml#2 metadata.name: AccessPolicy "a" is already defined at app.yaml#1'],
    ],
    [
      'a claim test without equals or contains',
      `${app('[{name: a}]')}---\n${POLICY}metadata: {name: a}\nspec: {decision: allow, include: [{claim: {name: dept}}]}\n`,
      ['app.yaml#2 spec.include[0].claim: needs exactly one of equals or contains'],
    ],
  ];
  it.each(cases)('%s: every error is reported with its path', (_name, text, expected) => {
    const errors = errorsOf({ '/x/app.yaml': text });
    for (const e of expected) expect(errors, e).toContainEqual(expect.stringContaining(e));
  });
});

describe('renderSidecarConfig', () => {
  it('is deterministic: same input, same generation', () => {
    const a = renderSidecarConfig({ application: testApplication({ policies: [] }) });
    const b = renderSidecarConfig({ application: testApplication({ policies: [] }) });
    expect(a.ok && b.ok && a.config.generation === b.config.generation).toBe(true);
    const c = renderSidecarConfig({
      application: testApplication({ policies: [], trustedProxies: ['10.0.0.0/8'] }),
    });
    expect(c.ok && a.ok && c.config.generation !== a.config.generation).toBe(true);
  });

  it('round-trips through the boundary parser (what the operator will send)', () => {
    const config = testConfig(
      { policies: [{ name: 'admins' }, { name: 'open' }] },
      {
        admins: {
          decision: 'allow',
          include: [{ emails: ['Ann@Example.com'] }, { groups: ['admins'] }],
          require: [{ ipRanges: ['10.0.0.0/8'] }],
          exclude: [{ paths: ['/internal/**'] }],
        },
      },
    );
    const parsed = parseSidecarConfig(JSON.parse(JSON.stringify(config)));
    expect(parsed).toEqual(config);
    expect(parsed.policies[0]?.include[0]).toEqual({ emails: ['ann@example.com'] });
    expect(Object.isFrozen(parsed.logging.redactQueryParameters)).toBe(true);
    expect(() => parseSidecarConfig({ ...config, trustedProxies: ['x'] })).toThrow(/trustedProxies\[0\]/);
    expect(() => parseSidecarConfig({ ...config, proxyProtocol: { from: ['10.0.0.0/8', 'x'] } })).toThrow(
      /proxyProtocol\.from\[1\]: is not an IP address/,
    );
    expect(() => parseSidecarConfig({ ...config, proxyProtocol: { from: [] } })).toThrow(/proxyProtocol/);
    expect(parseSidecarConfig({ ...config, proxyProtocol: { from: ['10.0.0.0/20'] } }).proxyProtocol).toEqual(
      {
        from: ['10.0.0.0/20'],
      },
    );
    const badPolicy = { ...config.policies[0], require: [{ ipRanges: ['10.0.0.0/99'] }] };
    expect(() => parseSidecarConfig({ ...config, policies: [badPolicy] })).toThrow(
      /policies\[0\]\.require\[0\]\.ipRanges\[0\]: is not an IP address/,
    );
  });

  it(`does not render more revocations than a sidecar takes (${MAX_REVOCATIONS})`, () => {
    const revocations = Array.from({ length: MAX_REVOCATIONS + 1 }, (_, i) => testRevocation(`r${i}`));
    const application = testApplication({ policies: [] });
    expect(renderSidecarConfig({ application, revocations: revocations.slice(1) }).ok).toBe(true);
    const over = renderSidecarConfig({ application, revocations });
    expect(over.ok).toBe(false);
    if (!over.ok)
      expect(over.errors).toEqual([
        {
          path: 'revocations',
          message: `${MAX_REVOCATIONS + 1} AccessRevocations cover this application; a sidecar takes at most ${MAX_REVOCATIONS}`,
        },
      ]);
  });

  it('keeps the revocations of the config in force that a new one carries unchanged, and checks the rest', () => {
    const config = testConfig();
    const [a, b, c] = [testRevocation('a'), testRevocation('b'), testRevocation('c')];
    const current = parseSidecarConfig(JSON.parse(JSON.stringify({ ...config, revocations: [a, b] })));
    // What the operator sends after a sign-out: every revocation again (new objects), one more.
    const next = parseSidecarConfig(
      JSON.parse(JSON.stringify({ ...config, revocations: [a, c, b] })),
      current,
    );
    expect(next.revocations).toEqual([a, c, b]);
    expect(next.revocations[0]).toBe(current.revocations[0]);
    expect(next.revocations[2]).toBe(current.revocations[1]);
    expect(next.revocations[1]).not.toBe(current.revocations[0]);
    expect(Object.isFrozen(next.revocations)).toBe(true);
    expect(Object.isFrozen(next.revocations[1])).toBe(true);
    // A revocation of the same name with anything changed is taken as received, and checked.
    const changed = parseSidecarConfig({ ...config, revocations: [{ ...a, reason: 'other' }, b] }, current);
    expect(changed.revocations[0]).not.toBe(current.revocations[0]);
    expect(changed.revocations[0]?.reason).toBe('other');
    expect(changed.revocations[1]).toBe(current.revocations[1]);
    for (const bad of [
      { ...a, before: -1 },
      { ...a, extra: true },
      { ...a, session: { nested: 'x' } },
      { name: 'a' },
    ])
      expect(() => parseSidecarConfig({ ...config, revocations: [b, bad] }, current)).toThrow(
        /revocations\[1\]/,
      );
    // The bound counts every revocation, kept or not.
    const many = Array.from({ length: MAX_REVOCATIONS }, (_, i) => testRevocation(`r${i}`));
    const full = parseSidecarConfig(JSON.parse(JSON.stringify({ ...config, revocations: many })), current);
    expect(() =>
      parseSidecarConfig(
        JSON.parse(JSON.stringify({ ...config, revocations: [...many, testRevocation('one-more')] })),
        full,
      ),
    ).toThrow(`revocations: must not have more than ${MAX_REVOCATIONS} items`);
  });

  it('keeps the policies of the config in force when a new one carries the same (a revocation)', () => {
    const config = testConfig(
      { policies: [{ name: 'admins' }] },
      { admins: { decision: 'allow', include: [{ groups: ['admins'] }] } },
    );
    const current = parseSidecarConfig(JSON.parse(JSON.stringify(config)));
    const revocation = testRevocation('r1');
    const next = parseSidecarConfig(
      JSON.parse(JSON.stringify({ ...config, revocations: [revocation] })),
      current,
    );
    expect(next.policies).toBe(current.policies);
    expect(next.revocations).toEqual([revocation]);
    expect(Object.isFrozen(next.revocations[0])).toBe(true);
    // Everything else is still checked.
    expect(() => parseSidecarConfig({ ...config, trustedProxies: ['x'] }, current)).toThrow(
      /trustedProxies\[0\]/,
    );
    // Other policies are checked and taken as received.
    const badPolicy = { ...config.policies[0], require: [{ ipRanges: ['10.0.0.0/99'] }] };
    expect(() => parseSidecarConfig({ ...config, policies: [badPolicy] }, current)).toThrow(
      /policies\[0\]\.require\[0\]\.ipRanges\[0\]: is not an IP address/,
    );
    const otherPolicy = { ...config.policies[0], include: [{ groups: ['admins', 'sre'] }] };
    const changed = parseSidecarConfig(
      JSON.parse(JSON.stringify({ ...config, policies: [otherPolicy] })),
      current,
    );
    expect(changed.policies).not.toBe(current.policies);
    expect(changed.policies[0]?.include[0]).toEqual({ groups: ['admins', 'sre'] });
  });
});
