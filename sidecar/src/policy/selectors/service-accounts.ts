import type { SelectorDefinition } from '../selector.ts';

function nameTest(pattern: string): (name: string) => boolean {
  if (pattern === '*') return () => true;
  if (pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1);
    return (name) => name.startsWith(prefix);
  }
  return (name) => name === pattern;
}

/**
 * Matches an in-cluster caller whose verified token names one of the listed ServiceAccounts
 * (identity `system:serviceaccount:<namespace>:<name>`). Namespaces compare exactly; a name may
 * be `*` or a prefix ending in `*`.
 */
export const serviceAccounts: SelectorDefinition<'serviceAccounts'> = {
  kind: 'serviceAccounts',
  pass: 'service_account_listed',
  fail: 'service_account_not_listed',
  compile(value) {
    const byNamespace = new Map<string, ((name: string) => boolean)[]>();
    for (const a of value) {
      const tests = byNamespace.get(a.namespace) ?? [];
      tests.push(nameTest(a.name));
      byNamespace.set(a.namespace, tests);
    }
    return (input) => {
      const account = input.identity?.kind === 'service-account' ? input.identity.serviceAccount : null;
      if (!account) return false;
      return byNamespace.get(account.namespace)?.some((test) => test(account.name)) ?? false;
    };
  },
};
