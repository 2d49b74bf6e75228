/** Bounds on what a JSON text may build when parsed. */
export interface JsonShapeLimits {
  /** Deepest nesting of arrays and objects. */
  readonly maxDepth: number;
  /** Most arrays and objects in all. */
  readonly maxContainers: number;
}

/**
 * Why a JSON text would build more than the limits allow, or undefined; read in one pass,
 * without parsing. JSON.parse builds the whole tree first, and a tree costs far more than its
 * text: 8 MB of `[{},{},…]` took 179 MiB of heap and 0.6 s of the thread, 8 MB of `[[[[…]]]]`
 * 221 MiB and a second, most of a 512 MiB process's heap, before anything could look at it.
 * Text that is not JSON may pass here; JSON.parse refuses it.
 */
export function jsonShapeProblem(text: string, limits: JsonShapeLimits): string | undefined {
  let depth = 0;
  let containers = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > limits.maxDepth) return `nested deeper than ${limits.maxDepth}`;
      if (++containers > limits.maxContainers) return `more than ${limits.maxContainers} arrays and objects`;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return undefined;
}
