// Everything a module needs, built once per process (or per test) and passed in explicitly.
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from './clock.ts';
import type { Config } from './config/config.ts';
import type { SealedBox } from './crypto/sealed-box.ts';
import type { OrganizationService } from './orgs/organization-service.ts';
import type { SigningCredentials } from './orgs/hosted/signing-credentials.ts';
import type { Store } from './store/store.ts';
import type { Metrics } from './metrics/metrics.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { Mailer } from './mail/mailer.ts';

export interface AppContext {
  config: Config;
  store: Store;
  box: SealedBox;
  credentials: SigningCredentials;
  organizations: OrganizationService;
  clock: Clock;
  /** HMAC key for remembered-device cookies, derived from the master key */
  deviceKey: Buffer;
  metrics: Metrics;
  /** optional e-mail (SMTP_URL); `enabled` is false without it */
  mailer: Mailer;
  /** draining flag of a shutting-down server (set by bootstrap; contexts built by hand may leave it out) */
  lifecycle?: Lifecycle;
}
export type { FastifyBaseLogger };
