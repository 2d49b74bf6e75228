import type { AccessApplication } from '../../contract/api/access-application.ts';
import { testConfig } from './fixtures.ts';
import { type ForgedProvider, startForgedProvider } from './forged-provider.ts';
import { type InProcessSidecar, startSidecar } from './in-process.ts';
import { startUpstream, type TestUpstream } from './upstream.ts';

/** An in-process sidecar whose one identity provider (`corp`, client `gatehouse`) is the forged one. */
export interface ForgedSignIn {
  readonly provider: ForgedProvider;
  readonly upstream: TestUpstream;
  readonly gate: InProcessSidecar;
  close(): Promise<void>;
}

/** Starts the forged provider, an upstream and a sidecar that lets the `engineering` group in; `authentication` adds to its settings. */
export async function startForgedSignIn(
  authentication: Partial<NonNullable<AccessApplication['spec']['authentication']>> = {},
): Promise<ForgedSignIn> {
  const provider = await startForgedProvider('gatehouse');
  const upstream = await startUpstream();
  const gate = await startSidecar(undefined);
  gate.sidecar.install(
    testConfig(
      {
        upstream: { url: upstream.url },
        policies: [{ name: 'engineers' }],
        authentication: {
          externalUrl: gate.url,
          identityProviders: [{ name: 'corp', issuer: provider.issuer, clientId: 'gatehouse' }],
          ...authentication,
        },
      },
      { engineers: { decision: 'allow', include: [{ groups: ['engineering'] }] } },
    ),
  );
  return {
    provider,
    upstream,
    gate,
    async close() {
      await gate.close();
      await provider.close();
      await upstream.close();
    },
  };
}
