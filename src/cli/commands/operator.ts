// `operator create`: a platform operator, who signs in at the bare BASE_DOMAIN (/operator) to list, create, suspend,
// resume and delete organisations. The password and the authenticator key are printed once.
import { parseArgs } from 'node:util';
import type { AppContext } from '../../context.ts';
import { createOperator } from '../../orgs/operators.ts';
import { UsageError } from '../output.ts';

export const operatorUsage = `
  operator create --email <email>
                               a platform operator (sign-in at <BASE_DOMAIN>/operator); password and TOTP key shown once`;

export async function operatorCommand(argv: string[], ctx: AppContext): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { email: { type: 'string' }, json: { type: 'boolean' } } });
  if (sub !== 'create') throw new UsageError(`unknown operator command "${sub ?? ''}"`);
  if (!values.email) throw new UsageError('--email is required');
  const created = await createOperator(ctx, values.email, 'cli');
  const signIn = `${ctx.config.publicScheme}://${ctx.config.baseDomain}/operator/login`;
  if (values.json) {
    console.log(
      JSON.stringify(
        {
          email: created.operator.email,
          password: created.password,
          totpSecret: created.totpSecret,
          otpauthUri: created.otpauthUri,
          signIn,
        },
        null,
        2,
      ),
    );
    return 0;
  }
  console.log(
    `Operator ${created.operator.email} created. Shown only now:\n\n  Password:            ${created.password}\n  Authenticator key:   ${created.totpSecret}\n  otpauth URI:         ${created.otpauthUri}\n\nAdd the key to an authenticator app, then sign in at ${signIn}`,
  );
  return 0;
}
