// `keys list|create-next|promote|retire`: signing-key rollover for an organisation.
import { parseArgs } from 'node:util';
import type { AppContext } from '../../context.ts';
import { createNextKey, promoteNextKey, retirePreviousKeys } from '../../orgs/hosted/key-rollover.ts';
import { UsageError } from '../output.ts';
import { tenantBySlug } from '../resolve-org.ts';

export const keysUsage = `
  keys list|create-next|promote|retire --org <slug>   (rollover: create-next, wait for partners to refresh metadata,
                                                        promote, wait out the grace period, retire)`;

export async function keysCommand(argv: string[], ctx: AppContext): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { org: { type: 'string' } } });
  const tenant = await tenantBySlug(ctx, values.org);
  switch (sub) {
    case 'list':
      for (const k of await tenant.store.signingKeys.list())
        console.log(`${k.id}  ${k.status.padEnd(8)}  ${k.fingerprint}  until ${k.notAfter.toISOString().slice(0, 10)}`);
      return 0;
    case 'create-next': {
      const k = await createNextKey(ctx, tenant, 'cli');
      console.log(
        `Next key ${k.id} created and published in ${tenant.urls.idpMetadata} and ${tenant.urls.spMetadata}.\nPromote it once apps and IdPs have refreshed their copy of the metadata.`,
      );
      return 0;
    }
    case 'promote': {
      const k = await promoteNextKey(ctx, tenant, 'cli');
      console.log(
        `Key ${k.id} now signs. The previous key stays in the metadata until you run: keys retire --org ${tenant.org.slug}`,
      );
      return 0;
    }
    case 'retire':
      console.log(`Retired ${await retirePreviousKeys(ctx, tenant, 'cli')} previous key(s).`);
      return 0;
    default:
      throw new UsageError(`unknown keys command "${sub ?? ''}"`);
  }
}
