import { describe, expect, it } from 'vitest';
import { newRequestId, newTraceIds } from '../../sidecar/src/http/random-ids.ts';
import { newTraceparent, traceIdOf } from '../../sidecar/src/http/trace-context.ts';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** How often each hex digit appears at each position of many ids (16 digits x length). */
function digitCounts(ids: string[]): number[][] {
  const length = (ids[0] as string).length;
  const counts = Array.from({ length }, () => new Array<number>(16).fill(0));
  for (const id of ids)
    for (let p = 0; p < length; p++) {
      const d = Number.parseInt(id[p] as string, 16);
      if (!Number.isNaN(d)) (counts[p] as number[])[d] = ((counts[p] as number[])[d] as number) + 1;
    }
  return counts;
}

describe('random ids', () => {
  it('request ids are version 4 UUIDs, all different, across many refills of the pool', () => {
    const ids = Array.from({ length: 50_000 }, () => newRequestId()); // 800 KB of the 4 KiB pool
    for (const id of ids) expect(id).toMatch(UUID_V4);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('every random hex digit of a request id is uniform (each digit 1/16 of the time, within 15%)', () => {
    const ids = Array.from({ length: 32_000 }, () => newRequestId());
    const counts = digitCounts(ids);
    counts.forEach((perDigit, p) => {
      if (p === 14)
        expect(perDigit[4]).toBe(ids.length); // the version
      else if (p === 19) {
        // the variant: 8, 9, a and b a quarter each
        for (const d of [8, 9, 10, 11])
          expect(Math.abs((perDigit[d] as number) / ids.length - 0.25)).toBeLessThan(0.03);
      } else if (perDigit.some((c) => c > 0))
        for (const c of perDigit) expect(Math.abs(c / (ids.length / 16) - 1)).toBeLessThan(0.15);
    });
  });

  it('trace and parent ids are 32 and 16 lower-case hex digits, uniform, never repeated', () => {
    const traces = Array.from({ length: 20_000 }, () => newTraceIds());
    for (const { traceId, parentId } of traces) {
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(parentId).toMatch(/^[0-9a-f]{16}$/);
    }
    expect(new Set(traces.map((t) => t.traceId)).size).toBe(traces.length);
    for (const perDigit of digitCounts(traces.map((t) => t.traceId)))
      for (const c of perDigit) expect(Math.abs(c / (traces.length / 16) - 1)).toBeLessThan(0.15);
  });

  it('a new traceparent is valid W3C Trace Context and carries its trace id', () => {
    for (let i = 0; i < 1000; i++) {
      const { traceparent, traceId } = newTraceparent();
      expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(traceIdOf(traceparent)).toBe(traceId);
    }
  });
});
