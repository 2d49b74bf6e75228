import type { KubeObject } from './kube-object.ts';

/** A Secret's data (base64 in the API) as strings. */
export function secretStrings(secret: KubeObject): Record<string, string> {
  const data = (secret.data ?? {}) as Record<string, string>;
  return Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );
}

/** Strings as a Secret's data (base64); undefined values are left out. */
export function secretData(strings: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(strings).flatMap(([k, v]) =>
      v === undefined ? [] : [[k, Buffer.from(v).toString('base64')]],
    ),
  );
}
