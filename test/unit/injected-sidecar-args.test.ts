import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../contract/errors.ts';
import { type InjectionContext, injectPod } from '../../operator/src/injection/inject-pod.ts';
import {
  InjectionSettingsSchema,
  parseInjectionSettings,
  SIDECAR_LIMIT_FLAGS,
} from '../../operator/src/injection/injection-settings.ts';
import type { ContainerLike, PodLike } from '../../operator/src/injection/pod-shape.ts';
import { parseSidecarFlags } from '../../sidecar/src/cli/sidecar-flags.ts';

const BASE = { image: 'gatehouse:test', operatorUrl: 'https://gatehouse-operator.gatehouse-system.svc:443' };
const pod: PodLike = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    namespace: 'shop',
    labels: { 'gatehouse.dev/inject': 'true', 'gatehouse.dev/application': 'storefront' },
  },
  spec: {
    containers: [
      { name: 'web', image: 'nginx', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] },
    ],
  },
};

/** The client limits of injected sidecars: settable by the platform team, and nothing else. */
describe('sidecar args of injected sidecars', () => {
  it('are appended to the sidecar command line the webhook builds', () => {
    const settings = parseInjectionSettings(
      { ...BASE, args: ['--anonymous-share=0.25', '--max-connections=20000'] },
      'injection.yaml',
    );
    const context: InjectionContext = { settings, caBundle: 'PEM', nativeSidecar: true };
    const result = injectPod(structuredClone(pod), context);
    if (result.kind !== 'injected') throw new Error(result.kind);
    const sidecar = [...(result.pod.spec?.initContainers ?? [])].find(
      (c) => c.name === 'gatehouse',
    ) as ContainerLike;
    expect((sidecar.args as string[]).slice(-2)).toEqual([
      '--anonymous-share=0.25',
      '--max-connections=20000',
    ]);
  });

  it.each([
    ['--config=/etc/evil'],
    ['--upstream=http://10.0.0.1'],
    ['--max-connections 20000'],
    ['--anonymous-share=0.5; rm'],
  ])('refuses %s with its path', (arg) => {
    expect(() => parseInjectionSettings({ ...BASE, args: [arg] }, 'injection.yaml')).toThrow(ConfigError);
    try {
      parseInjectionSettings({ ...BASE, args: [arg] }, 'injection.yaml');
    } catch (error) {
      expect((error as ConfigError).errors[0]?.path).toBe('injection.yaml args[0]');
    }
  });

  it('every allowed flag is a flag the sidecar takes', () => {
    const values: Record<string, string> = {
      'anonymous-share': '0.5',
      'client-share': '0.5',
      'client-body-min-rate': '500',
    };
    for (const flag of SIDECAR_LIMIT_FLAGS) {
      const value = values[flag] ?? (/timeout|grace|delay|after|interval/.test(flag) ? '5s' : '2048');
      expect(() => parseSidecarFlags(['--config', 'x', `--${flag}=${value}`]), flag).not.toThrow();
    }
  });

  it("the chart's values schema allows exactly these flags", () => {
    const schema = JSON.parse(
      readFileSync(resolve(import.meta.dirname, '../../charts/gatehouse/values.schema.json'), 'utf8'),
    );
    const pattern: string = schema.properties.sidecar.properties.args.items.pattern;
    const listed = /^\^--\(([^)]*)\)=/.exec(pattern)?.[1]?.split('|');
    expect(listed).toEqual([...SIDECAR_LIMIT_FLAGS]);
  });

  it("the chart's values schema takes the egress proxy the operator takes", () => {
    const schema = JSON.parse(
      readFileSync(resolve(import.meta.dirname, '../../charts/gatehouse/values.schema.json'), 'utf8'),
    );
    const chart = schema.properties.sidecar.properties.egressProxy;
    const operator = InjectionSettingsSchema.properties.egressProxy as unknown as {
      properties: Record<string, { maxLength: number; pattern: string }>;
    };
    expect(chart.additionalProperties).toBe(false);
    for (const field of ['httpsProxy', 'httpProxy', 'noProxy'] as const)
      expect(chart.properties[field], field).toEqual({
        type: 'string',
        maxLength: operator.properties[field]?.maxLength,
        pattern: operator.properties[field]?.pattern,
      });
  });
});
