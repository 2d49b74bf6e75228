import { describe, expect, it } from 'vitest';
import { LinkedOrder, type OrderLink } from '../../lib/linked-order.ts';

interface Node extends OrderLink {
  readonly name: string;
}
const node = (name: string): Node => ({ name, orderPrev: null, orderNext: null, inOrder: false });

/** The names from first to last, walked both ways to check the links agree. */
function names(order: LinkedOrder<Node>): string[] {
  const forward: string[] = [];
  let last: Node | null = null;
  for (let n = order.first(); n !== null; n = n.orderNext as Node | null) {
    forward.push(n.name);
    last = n;
  }
  const backward: string[] = [];
  for (let n: Node | null = last; n !== null; n = n.orderPrev as Node | null) backward.push(n.name);
  expect(backward.reverse()).toEqual(forward);
  expect(order.size).toBe(forward.length);
  return forward;
}

function appendAll(order: LinkedOrder<Node>, nodes: Record<string, Node>, keys: string[]): void {
  for (const key of keys) order.append(nodes[key] as Node);
}

describe('the linked order', () => {
  const cases: [string, (o: LinkedOrder<Node>, n: Record<string, Node>) => void, string[]][] = [
    ['empty', () => undefined, []],
    ['appended in turn', (o, n) => appendAll(o, n, ['a', 'b', 'c']), ['a', 'b', 'c']],
    ['appended again moves last', (o, n) => appendAll(o, n, ['a', 'b', 'c', 'a']), ['b', 'c', 'a']],
    [
      'the first removed',
      (o, n) => {
        appendAll(o, n, ['a', 'b', 'c']);
        o.remove(n.a as Node);
      },
      ['b', 'c'],
    ],
    [
      'the middle removed',
      (o, n) => {
        appendAll(o, n, ['a', 'b', 'c']);
        o.remove(n.b as Node);
      },
      ['a', 'c'],
    ],
    [
      'the last removed, then one appended',
      (o, n) => {
        appendAll(o, n, ['a', 'b', 'c']);
        o.remove(n.c as Node);
        o.append(n.d as Node);
      },
      ['a', 'b', 'd'],
    ],
    [
      'removing one not in the order changes nothing, twice',
      (o, n) => {
        appendAll(o, n, ['a', 'b']);
        o.remove(n.c as Node);
        o.remove(n.a as Node);
        o.remove(n.a as Node);
      },
      ['b'],
    ],
    [
      'all removed, then appended again',
      (o, n) => {
        appendAll(o, n, ['a', 'b']);
        o.remove(n.b as Node);
        o.remove(n.a as Node);
        o.append(n.b as Node);
      },
      ['b'],
    ],
  ];
  for (const [what, steps, expected] of cases)
    it(what, () => {
      const order = new LinkedOrder<Node>();
      const nodes = Object.fromEntries(['a', 'b', 'c', 'd'].map((k) => [k, node(k)]));
      steps(order, nodes);
      expect(names(order)).toEqual(expected);
      expect(order.first()?.name ?? null).toBe(expected[0] ?? null);
    });

  it('matches a reference list over 20,000 random moves', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const nodes = Array.from({ length: 12 }, (_, i) => node(String(i)));
    const order = new LinkedOrder<Node>();
    let reference: string[] = [];
    for (let step = 0; step < 20_000; step++) {
      const n = nodes[Math.floor(random() * nodes.length)] as Node;
      reference = reference.filter((k) => k !== n.name);
      if (random() < 0.6) {
        order.append(n);
        reference.push(n.name);
      } else order.remove(n);
      if (step % 97 === 0) expect(names(order)).toEqual(reference);
    }
    expect(names(order)).toEqual(reference);
  });

  it('visits every node in order, also while the visit removes the node it is given', () => {
    const order = new LinkedOrder<Node>();
    const nodes = Object.fromEntries(['a', 'b', 'c', 'd'].map((k) => [k, node(k)]));
    appendAll(order, nodes, ['a', 'b', 'c']);
    const seen: string[] = [];
    order.forEach((n) => {
      seen.push(n.name);
      if (n.name !== 'b') order.remove(n);
      if (n.name === 'c') order.append(nodes.d as Node);
    });
    // One appended during the walk, after the node being visited when it was the last, is not visited.
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(names(order)).toEqual(['b', 'd']);
    expect(order.size).toBe(2);
  });
});
