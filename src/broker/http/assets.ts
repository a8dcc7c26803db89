// Scripts the end-user pages load from the broker itself (no CDN): @simplewebauthn/browser's bundle, read once from
// the installed package. Pages load it with their CSP nonce, so the policy stays nonce-only.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';

export const WEBAUTHN_SCRIPT_PATH = '/assets/simplewebauthn-browser.js';

// The package exports only its module entries (script/index.js); the browser bundle (its `unpkg` file) is in dist/.
const bundlePath = () =>
  join(
    dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')),
    '..',
    'dist/bundle/index.umd.min.js',
  );

export async function assetRoutes(app: FastifyInstance) {
  const webauthn = readFileSync(bundlePath());
  app.get(WEBAUTHN_SCRIPT_PATH, async (_request, reply) =>
    reply
      .header('content-type', 'text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .send(webauthn),
  );
}
