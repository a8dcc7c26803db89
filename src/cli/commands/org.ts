// `org create|list|show`: the scriptable twin of the welcome page.
import { parseArgs } from 'node:util';
import type { AppContext } from '../../context.ts';
import { orgUrls } from '../../orgs/urls.ts';
import { printUrls, UsageError } from '../output.ts';
import { updateOrganizationSettings } from '../../orgs/hosted/settings.ts';

export const orgUsage = `
  org create --slug <slug> --name <name> --admin-email <email> [--admin-password <pw>] [--json]
  org list [--json]
  org show <slug> [--json]
  org settings <slug> [--jit on|off] [--totp-digits 6|8] [--totp-period <s>] [--totp-algorithm SHA1|SHA256|SHA512]
               [--session-ttl <s>] [--name <display name>] [--primary-color #rrggbb] [--accent-color #rrggbb]
               [--logo-url <https url>] [--login-message <text>] [--webauthn-counter-policy refuse|allow-flagged]`;

export async function orgCommand(argv: string[], ctx: AppContext): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'create') {
    const { values } = parseArgs({
      args: rest,
      options: {
        slug: { type: 'string' },
        name: { type: 'string' },
        'admin-email': { type: 'string' },
        'admin-password': { type: 'string' },
        json: { type: 'boolean' },
      },
      strict: true,
    });
    if (!values.slug || !values.name || !values['admin-email'])
      throw new UsageError('org create needs --slug, --name and --admin-email');
    const created = await ctx.organizations.create(
      {
        slug: values.slug,
        name: values.name,
        adminEmail: values['admin-email'],
        ...(values['admin-password'] !== undefined && { adminPassword: values['admin-password'] }),
      },
      'cli',
    );
    if (values.json) {
      const { appLaunch: _fn, ...urls } = created.urls;
      console.log(JSON.stringify({ ...created, urls }, null, 2));
      return 0;
    }
    console.log(`Created organisation "${created.org.name}" (${created.org.slug})`);
    console.log(`  Admin: ${created.adminEmail}`);
    if (created.generatedPassword)
      console.log(`  One-time admin password (shown once; change it at first sign-in): ${created.generatedPassword}`);
    printUrls(created.urls);
    return 0;
  }
  if (sub === 'list') {
    const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' } } });
    const orgs = await ctx.store.organizations.list();
    if (values.json)
      console.log(
        JSON.stringify(
          orgs.map((o) => ({ id: o.id, slug: o.slug, name: o.name, login: orgUrls(ctx.config, o.slug).login })),
          null,
          2,
        ),
      );
    else if (!orgs.length)
      console.log(
        'No organisations yet. Create one with: npm run cli -- org create --slug <slug> --name <name> --admin-email <email>',
      );
    else
      for (const o of orgs)
        console.log(`${o.slug.padEnd(24)} ${o.name.padEnd(32)} ${orgUrls(ctx.config, o.slug).login}`);
    return 0;
  }
  if (sub === 'show') {
    const { values, positionals } = parseArgs({
      args: rest,
      options: { json: { type: 'boolean' } },
      allowPositionals: true,
    });
    const org = positionals[0] && (await ctx.store.organizations.findBySlug(positionals[0]));
    if (!org) throw new UsageError(`no organisation "${positionals[0] ?? ''}"`);
    const urls = orgUrls(ctx.config, org.slug);
    if (values.json) {
      const { appLaunch: _fn, ...plain } = urls;
      console.log(JSON.stringify({ id: org.id, slug: org.slug, name: org.name, urls: plain }, null, 2));
    } else {
      console.log(`${org.name} (${org.slug})`);
      printUrls(urls);
    }
    return 0;
  }
  if (sub === 'settings') {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        jit: { type: 'string' },
        'totp-digits': { type: 'string' },
        'totp-period': { type: 'string' },
        'totp-algorithm': { type: 'string' },
        'session-ttl': { type: 'string' },
        name: { type: 'string' },
        'primary-color': { type: 'string' },
        'accent-color': { type: 'string' },
        'logo-url': { type: 'string' },
        'login-message': { type: 'string' },
        'webauthn-counter-policy': { type: 'string' },
      },
    });
    const org = positionals[0] && (await ctx.store.organizations.findBySlug(positionals[0]));
    if (!org) throw new UsageError(`no organisation "${positionals[0] ?? ''}"`);
    const updated = await updateOrganizationSettings(
      ctx,
      org.id,
      {
        ...(values.jit !== undefined && {
          jitProvisioning: values.jit === 'on' ? true : values.jit === 'off' ? false : (values.jit as never),
        }),
        ...(values['totp-digits'] !== undefined && { totpDigits: Number(values['totp-digits']) }),
        ...(values['totp-period'] !== undefined && { totpPeriod: Number(values['totp-period']) }),
        ...(values['totp-algorithm'] !== undefined && { totpAlgorithm: values['totp-algorithm'] }),
        ...(values['session-ttl'] !== undefined && { sessionTtlSeconds: Number(values['session-ttl']) }),
        ...(values.name !== undefined && { name: values.name }),
        ...(values['primary-color'] !== undefined && { primaryColor: values['primary-color'] }),
        ...(values['accent-color'] !== undefined && { accentColor: values['accent-color'] }),
        ...(values['logo-url'] !== undefined && { logoUrl: values['logo-url'] || null }),
        ...(values['login-message'] !== undefined && { loginMessage: values['login-message'] || null }),
        // Checked by updateOrganizationSettings against the policies it knows, like every other value here.
        ...(values['webauthn-counter-policy'] !== undefined && {
          webauthnCounterPolicy: values['webauthn-counter-policy'],
        }),
      },
      'cli',
    );
    console.log(
      `Saved settings of ${updated.slug}: just-in-time users ${updated.jitProvisioning ? 'on' : 'off'}, TOTP ${updated.totpDigits} digits / ${updated.totpPeriod} s / ${updated.totpAlgorithm}, sessions ${updated.sessionTtlSeconds} s, security key counter going backwards: ${updated.webauthnCounterPolicy}.`,
    );
    return 0;
  }
  throw new UsageError(`unknown org command "${sub ?? ''}"`);
}
