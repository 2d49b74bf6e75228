import type * as Undici from 'undici';

/**
 * The whole undici package (fetch, the proxy agents), loaded when first needed: most sidecars
 * never need it (lib/http/undici-core.ts loads the pool alone). Its exports are taken from the
 * module's default, which is what both forms give: Node.js loading the CommonJS package from the
 * sources gives the exports as its default (and as named ones), and the bundle in dist/ gives
 * them as its default only. Named imports (`const { fetch } = await import('undici')`) were
 * undefined in the bundle: every ServiceAccount token was refused there.
 */
export async function undiciPackage(): Promise<typeof Undici> {
  const loaded = (await import('undici')) as typeof Undici & { default?: typeof Undici };
  return loaded.default ?? loaded;
}
