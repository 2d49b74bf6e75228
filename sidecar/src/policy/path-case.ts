import type { RenderedPolicy } from '../../../contract/config/rendered-policy.ts';
import type { PolicyInput } from './input.ts';

/** How an application's policies compare paths (`spec.upstream.caseInsensitivePaths`). */
export interface PathCase {
  /** The application finds its pages without regard to case: paths selectors compare the same way. */
  readonly caseInsensitive: boolean;
}

/** Lower-cases the letters of a canonical path (ASCII: the rest of it is percent-encoded). */
export function foldPathCase(path: string): string {
  return path.toLowerCase();
}

/**
 * The policies with every `paths` glob folded, for an application whose paths compare without
 * regard to case; the request's path is folded the same way before they see it (foldedInput).
 * Globs are canonical paths with `*` segments, so folding keeps their meaning but for case.
 */
export function withPathsFolded(policies: readonly RenderedPolicy[]): RenderedPolicy[] {
  const fold = (selectors: RenderedPolicy['include']) =>
    selectors.map((s) => (s.paths !== undefined ? { paths: s.paths.map(foldPathCase) } : s));
  return policies.map((p) => ({
    ...p,
    include: fold(p.include),
    require: fold(p.require),
    exclude: fold(p.exclude),
  }));
}

/** The request as policies of an application with case-insensitive paths see it. */
export function foldedInput(input: PolicyInput): PolicyInput {
  return { ...input, path: foldPathCase(input.path) };
}
