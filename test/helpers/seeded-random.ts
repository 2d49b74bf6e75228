/** A deterministic pseudo-random sequence in [0, 1) (xorshift32), so a failing case can be replayed. */
export function seededRandom(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/**
 * Text of up to 11 pieces drawn with `next`: printable ASCII characters, and with a chance of 0.3
 * each, one of `odd` (what a writer must escape or keep: quotes, controls, lone surrogates...).
 */
export function randomText(next: () => number, odd: readonly string[]): string {
  const length = Math.floor(next() * 12);
  let out = '';
  for (let i = 0; i < length; i++)
    out +=
      next() < 0.3
        ? (odd[Math.floor(next() * odd.length)] as string)
        : String.fromCharCode(32 + Math.floor(next() * 95));
  return out;
}
