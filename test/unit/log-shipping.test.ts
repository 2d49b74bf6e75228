import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * The Fluent Bit and Vector configurations in docs/shipping cannot run here (neither tool is
 * packaged for this machine); this checks they parse and that their selectors pick exactly the
 * sidecar's log files and lines.
 */
const DOCS = resolve(import.meta.dirname, '../../docs/shipping');
const globToRegExp = (glob: string) =>
  new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '[^/]*')}$`);

describe('log shipping configurations', () => {
  const fluent = parse(readFileSync(resolve(DOCS, 'fluent-bit.yaml'), 'utf8')) as {
    pipeline: {
      inputs: { path: string; tag_regex: string; 'multiline.parser': string }[];
      filters: { name: string; regex?: string[] }[];
      outputs: { name: string; match: string }[];
    };
  };

  it('Fluent Bit tails only the gatehouse containers and tags them by namespace and pod', () => {
    const input = fluent.pipeline.inputs[0];
    if (!input) throw new Error('no input');
    const path = globToRegExp(input.path);
    expect(path.test('/var/log/containers/storefront-7d9f8-x2k_shop_gatehouse-0123456789ab.log')).toBe(true);
    expect(path.test('/var/log/containers/storefront-7d9f8-x2k_shop_web-0123456789ab.log')).toBe(false);
    const tag = new RegExp(
      input.tag_regex.replace('(?<pod_name>', '(?<pod>').replace('(?<namespace_name>', '(?<ns>'),
    );
    expect(tag.exec('/var/log/containers/storefront-7d9f8-x2k_shop_gatehouse-0123.log')?.groups).toEqual({
      pod: 'storefront-7d9f8-x2k',
      ns: 'shop',
    });
    expect(input['multiline.parser']).toBe('cri');
  });

  it("Fluent Bit's grep keeps request lines of both profiles and events, and drops other JSON", () => {
    const grep = fluent.pipeline.filters.find((f) => f.name === 'grep');
    const rules = (grep?.regex ?? []).map((r) => {
      const [key = '', pattern = ''] = r.split(' ');
      return (line: Record<string, unknown>) =>
        typeof line[key] === 'string' && new RegExp(pattern).test(line[key] as string);
    });
    const keeps = (line: Record<string, unknown>) => rules.some((rule) => rule(line));
    expect(keeps({ type: 'request' })).toBe(true);
    expect(keeps({ type: 'login_succeeded' })).toBe(true);
    expect(keeps({ GatehouseType: 'request', ClientIP: '1.2.3.4' })).toBe(true);
    expect(keeps({ msg: 'something else' })).toBe(false);
    expect(fluent.pipeline.outputs.every((o) => o.match === 'gatehouse.*')).toBe(true);
  });

  it('Vector selects labelled pods, keeps the gatehouse container, parses JSON and ships it', () => {
    const vector = parse(readFileSync(resolve(DOCS, 'vector.yaml'), 'utf8')) as {
      sources: Record<string, { type: string; extra_label_selector: string; auto_partial_merge?: boolean }>;
      transforms: Record<string, { type: string; inputs: string[]; source: string; drop_on_abort: boolean }>;
      sinks: Record<string, { inputs: string[] }>;
    };
    const source = vector.sources.gatehouse_sidecars;
    expect(source).toMatchObject({
      type: 'kubernetes_logs',
      extra_label_selector: 'gatehouse.dev/application',
    });
    // The parts a runtime wrote of a line are joined (Vector's default): never turned off.
    expect(source?.auto_partial_merge ?? true).toBe(true);
    const remap = vector.transforms.gatehouse_lines;
    expect(remap?.inputs).toEqual(['gatehouse_sidecars']);
    expect(remap?.drop_on_abort).toBe(true);
    expect(remap?.source).toContain('.kubernetes.container_name != "gatehouse"');
    expect(remap?.source).toContain('parse_json(.message)');
    expect(Object.values(vector.sinks).map((s) => s.inputs)).toEqual([['gatehouse_lines']]);
  });
});
