// Builds the real HTTP application over a fresh test database; requests go through app.inject with a Host header.
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { createTestContext, type TestContext } from './context.ts';

export interface TestApp extends TestContext {
  app: FastifyInstance;
  /** inject with the Host of an organisation (slug) or the root host (null) */
  request(slug: string | null, opts: InjectOptions): Promise<LightMyRequestResponse>;
}

/** `logger`: Fastify's logger options (tests that read the log lines pass a stream); silent by default. */
export async function createTestApp(
  opts: Parameters<typeof createTestContext>[0] & { logger?: object } = {},
): Promise<TestApp> {
  const tc = await createTestContext(opts);
  const app = await buildApp(tc.ctx, { logger: opts.logger ?? false });
  await app.ready();
  return {
    ...tc,
    app,
    request(slug, o) {
      const host = slug ? `${slug}.${tc.config.baseDomain}` : tc.config.baseDomain;
      return app.inject({ ...o, headers: { host, ...(o.headers ?? {}) } });
    },
    async cleanup() {
      await app.close();
      await tc.cleanup();
    },
  };
}
