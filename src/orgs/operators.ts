// Platform operators: the people who run this broker and manage its organisations at the bare BASE_DOMAIN. An operator
// is created by the CLI (`npm run cli -- operator create --email ...`), or on the welcome page at first start, with a generated password and a TOTP factor,
// both shown once: their sign-in always asks for both (the admin sign-in, on the platform's store).
import { randomUUID } from 'node:crypto';
import { newSealedFactor } from '../admin/admin-totp.ts';
import type { AppContext } from '../context.ts';
import { AppError, ValidationError } from '../errors.ts';
import { PLATFORM_SCOPE } from '../store/platform.ts';
import { generatePassword, hashPassword } from './passwords.ts';

const EMAIL = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/;

export async function createOperator(ctx: AppContext, email: string, actor: string) {
  const address = email.trim();
  if (!EMAIL.test(address) || address.length > 254)
    throw new ValidationError({ email: 'is not a valid email address' });
  const platform = ctx.store.platform;
  if (await platform.admins.findByEmail(address))
    throw new AppError('operator_exists', `${address} is already an operator.`);
  const id = randomUUID();
  const password = generatePassword();
  const totp = await newSealedFactor(ctx, PLATFORM_SCOPE, id, { issuer: 'SAML Broker operator', account: address });
  const operator = await platform.admins.create({
    id,
    email: address,
    passwordHash: await hashPassword(password),
    totpSecretEnc: totp.totpSecretEnc,
  });
  await platform.audit.record({
    type: 'operator.created',
    actor,
    at: ctx.clock.now(),
    details: { email: operator.email },
  });
  return { operator, password, totpSecret: totp.secretBase32, otpauthUri: totp.otpauthUri, qrDataUrl: totp.qrDataUrl };
}
