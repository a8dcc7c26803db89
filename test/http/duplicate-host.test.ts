// Two Host headers: Node keeps the first and drops the rest, while a proxy in front may have used another one. Such a
// request is refused before the organisation is resolved. Sent over a real socket: inject cannot repeat a header.
import t from 'tap';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createTestApp } from '../helpers/app.ts';
import { createOrg } from '../helpers/context.ts';

/** Sends `head` as the request's start line and headers, returns the status code and body. */
function rawRequest(port: number, head: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (data += chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1]);
      resolve({ status, body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
    socket.write([...head, 'Connection: close', 'Accept: application/json', '', ''].join('\r\n'));
  });
}

t.test('a request with two Host headers is refused with 400 duplicate_host', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  await createOrg(ta.ctx, 'piedpipers', 'Pied Pipers');
  await createOrg(ta.ctx, 'hooli', 'Hooli');
  await ta.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = ta.app.server.address() as AddressInfo;
  const base = ta.config.baseDomain;

  for (const path of ['/saml/idp/metadata', '/login', '/healthz']) {
    const twice = await rawRequest(port, [`GET ${path} HTTP/1.1`, `Host: piedpipers.${base}`, `Host: hooli.${base}`]);
    t.equal(twice.status, 400, `${path}: refused`);
    t.equal(JSON.parse(twice.body).error.code, 'duplicate_host');
  }
  const sameTwice = await rawRequest(port, [
    'GET /saml/idp/metadata HTTP/1.1',
    `Host: piedpipers.${base}`,
    `host: piedpipers.${base}`,
  ]);
  t.equal(sameTwice.status, 400, 'also when both name the same host (any case)');

  const once = await rawRequest(port, ['GET /saml/idp/metadata HTTP/1.1', `Host: hooli.${base}`]);
  t.equal(once.status, 200, 'one Host header: served');
  t.match(once.body, `entityID="http://hooli.${base}/saml/idp/metadata"`);
});
