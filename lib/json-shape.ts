/** Bounds on what a JSON text may build when parsed. */
export interface JsonShapeLimits {
  /** Deepest nesting of arrays and objects. */
  readonly maxDepth: number;
  /** Most arrays and objects in all. */
  readonly maxContainers: number;
  /** Most array elements and object members (a key with its value) in all; unbounded when absent. */
  readonly maxMembers?: number;
}

/**
 * Why a JSON text would build more than the limits allow, or undefined; read in one pass,
 * without parsing. JSON.parse builds the whole tree first, and a tree costs far more than its
 * text: 8 MB of `[{},{},…]` took 179 MiB of heap and 0.6 s of the thread, 8 MB of `[[[[…]]]]`
 * 221 MiB and a second, most of a 512 MiB process's heap, before anything could look at it.
 * Members bound the time: within 100,000 arrays and objects, 8 MB of small objects whose keys
 * all differ took 0.68 s to parse (V8 builds a hidden class for each new key), 100,000 members of
 * the same at most 0.09 s. Text that is not JSON may pass here; JSON.parse refuses it.
 */
export function jsonShapeProblem(text: string, limits: JsonShapeLimits): string | undefined {
  const maxMembers = limits.maxMembers ?? Number.POSITIVE_INFINITY;
  let depth = 0;
  let containers = 0;
  let members = 0;
  // Set right after [ or {: the next character that is not white space says whether the
  // container is empty, or holds a first member (each later one follows a comma).
  let opened = false;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
      opened = false;
      continue;
    }
    if (opened || c === 0x2c /* , */) {
      opened = false;
      if (++members > maxMembers) return `more than ${maxMembers} array elements and object members`;
    }
    if (c === 0x22 /* " */) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > limits.maxDepth) return `nested deeper than ${limits.maxDepth}`;
      if (++containers > limits.maxContainers) return `more than ${limits.maxContainers} arrays and objects`;
      opened = true;
    }
  }
  return undefined;
}
