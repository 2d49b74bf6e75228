import {
  constructFromEvents,
  EVENT_ID,
  type Event,
  getScalarValue,
  parseEvents,
  SCALAR_STYLE,
} from 'js-yaml';

/**
 * The values of a YAML text's documents (null for an empty one), read by js-yaml, or undefined
 * when the text is not one the fast path reads exactly as the `yaml` package would.
 *
 * `yaml` keeps a syntax tree with positions for messages and reads a thousand policies in about
 * half a second; js-yaml reads them eight times faster. Both read YAML 1.2 with the core schema,
 * and they agree on what a config file holds, but not on every corner of YAML. The fast path takes
 * a text only when it uses none of those corners, and the caller reads everything else (and every
 * text with an error, so messages keep their words and positions) with `yaml`, as before:
 * - a document end marker (`...`): `yaml` counts an empty document before a leading one, and
 *   the count is how a document is named in messages (`app.yaml#2`);
 * - a tab anywhere (`yaml` rejects tabs in some places of indentation and separation where
 *   js-yaml reads them);
 * - `---` or `...` after leading whitespace (js-yaml takes it for a document marker, `yaml` for
 *   text) and a byte order mark anywhere (`yaml` rejects some texts after one that js-yaml reads);
 * - a block scalar with an indentation indicator (`|1`, `>-2`): the two strip different indentation
 *   from a top-level one;
 * - a `%YAML`/`%TAG` directive (`yaml` switches to YAML 1.1 scalars for `%YAML 1.1`);
 * - an explicit tag (`!!float 1`, `!custom x`): the two resolve tags differently;
 * - an alias (`*name`): `yaml` expands them under its own alias budget;
 * - a mapping key that is not a string (`~: x`, `1: x`, `? [a]`);
 * - a number too large for a double (`1e400`): `yaml` reads Infinity, js-yaml the text;
 * - any syntax or depth error (js-yaml stops at 100 levels of nesting).
 * test/unit/yaml-fast-path.test.ts holds the two to the same values on tables and fuzzed texts.
 */
export function fastYamlDocuments(text: string): unknown[] | undefined {
  if (TEXT_CORNERS.some((corner) => corner.test(text))) return undefined;
  let events: Event[];
  try {
    events = parseEvents(text, { maxDepth: 100 });
  } catch {
    return undefined;
  }
  if (!plainEvents(text, events)) return undefined;
  try {
    return constructFromEvents(events, { source: text, maxAliases: 0 });
  } catch {
    return undefined;
  }
}

/** Corners seen in the text itself: a document end marker, a tab, an indented marker, a byte order mark, an indentation indicator. */
const TEXT_CORNERS: readonly RegExp[] = [
  /^\.\.\.(?:[ \t\r\n]|$)/m,
  /\t/,
  /^[ \t]+(?:---|\.\.\.)(?:[ \t\r\n]|$)/m,
  /\uFEFF/,
  /[|>][-+]?[1-9]/,
];

/** Core-schema scalars that are not strings: null, booleans, numbers (YAML 1.2 core, plain style). */
const NON_STRING_PLAIN =
  /^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|[-+]?[0-9.].*|\.(?:inf|Inf|INF|nan|NaN|NAN))?$/;
const NUMBER = /^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/;
const RADIX = /^0(?:o[0-7]+|x[0-9a-fA-F]+)$/;

/** A plain scalar that reads as a number too large for a double, where the two parsers disagree. */
function overflows(value: string): boolean {
  if (NUMBER.test(value)) return !Number.isFinite(Number.parseFloat(value));
  if (RADIX.test(value)) return !Number.isFinite(Number.parseInt(value.slice(2), value[1] === 'x' ? 16 : 8));
  return false;
}

/** One open collection or document while walking the events: whether it is a mapping, and how many nodes it holds so far. */
interface Open {
  readonly mapping: boolean;
  nodes: number;
}

/** True when the events use none of the corners listed on fastYamlDocuments. */
function plainEvents(text: string, events: readonly Event[]): boolean {
  const open: Open[] = [];
  for (const event of events) {
    const parent = open[open.length - 1];
    const isKey = parent?.mapping === true && parent.nodes % 2 === 0;
    switch (event.type) {
      case EVENT_ID.DOCUMENT:
        if (event.directives.length > 0) return false;
        open.push({ mapping: false, nodes: 0 });
        continue;
      case EVENT_ID.POP:
        open.pop();
        if (open.length > 0) (open[open.length - 1] as Open).nodes += 1;
        continue;
      case EVENT_ID.ALIAS:
        return false;
      case EVENT_ID.SEQUENCE:
      case EVENT_ID.MAPPING:
        if (isKey || event.tagStart !== -1) return false;
        open.push({ mapping: event.type === EVENT_ID.MAPPING, nodes: 0 });
        continue;
      case EVENT_ID.SCALAR: {
        if (event.tagStart !== -1) return false;
        if (parent) parent.nodes += 1;
        if (event.style !== SCALAR_STYLE.PLAIN) continue;
        const value = getScalarValue(text, event);
        if (isKey ? NON_STRING_PLAIN.test(value) : overflows(value)) return false;
      }
    }
  }
  return true;
}
