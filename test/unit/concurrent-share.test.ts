import { describe, expect, it } from 'vitest';
import { ConcurrentShare } from '../../lib/concurrent-share.ts';

describe('ConcurrentShare', () => {
  it('one key runs up to its share, all keys up to the total; leaving gives the place back once', () => {
    const share = new ConcurrentShare(2, 3);
    const a1 = share.enter('a');
    const a2 = share.enter('a');
    expect(a1).not.toBeNull();
    expect(a2).not.toBeNull();
    expect(share.enter('a')).toBeNull(); // a's share
    const b1 = share.enter('b');
    expect(b1).not.toBeNull();
    expect(share.enter('c')).toBeNull(); // the total
    expect(share.running).toBe(3);
    a1?.();
    a1?.();
    expect(share.running).toBe(2);
    expect(share.enter('c')).not.toBeNull();
    expect(share.enter('a')).toBeNull(); // the total again, though a has room
  });
});
