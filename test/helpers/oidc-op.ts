// Upstream OpenID Connect providers for tests, on loopback: a real one (oidc-provider, a certified OP nobody here
// wrote, with its development login and consent pages driven over HTTP), and a forging one whose token endpoint
// returns whatever ID token the test made with jose (what no honest OP would send: alg none, unknown keys, ...).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as jose from 'jose';
import Provider from 'oidc-provider';

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

export interface RealOp {
  issuer: string;
  close(): Promise<void>;
  login(authUrl: string, accountId: string): Promise<string>;
  /** RP-initiated logout: follows the end_session URL, confirms the OP's "sign out?" form; the URL it sends back */
  logout(endSessionUrl: string): Promise<string>;
}

export interface OidcProviderOptions {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  claims: (accountId: string) => Record<string, unknown>;
  /** the client's registered post_logout_redirect_uris (RP-initiated logout) */
  postLogoutRedirectUris?: string[];
  /** private_key_jwt: the client authenticates with a JWT signed by a key of this JWKS URL (no secret) */
  privateKeyJwt?: { jwksUri: string };
}

/** oidc-provider with one confidential client; `claims(accountId)` are the account's claims (sub = accountId). */
/** A form the test's browser submits at the OP: where, and what. */
type OpForm = { action: string; fields: Record<string, string> };

export async function startOidcProvider(opts: OidcProviderOptions): Promise<RealOp> {
  const server = createServer();
  const issuer = await listen(server);
  const auth = opts.privateKeyJwt
    ? { token_endpoint_auth_method: 'private_key_jwt' as const, jwks_uri: opts.privateKeyJwt.jwksUri }
    : { client_secret: opts.clientSecret };
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: opts.clientId,
        ...auth,
        redirect_uris: [opts.redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        ...(opts.postLogoutRedirectUris && { post_logout_redirect_uris: opts.postLogoutRedirectUris }),
      },
    ],
    // The OP fetches our JWKS from a loopback address, which its SSRF guard (a dispatcher it adds) refuses: test only.
    ...(opts.privateKeyJwt && {
      fetch: ((url: Parameters<typeof fetch>[0], options?: RequestInit) =>
        globalThis.fetch(url, { ...options, dispatcher: undefined } as RequestInit)) as typeof fetch,
    }),
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['given_name', 'family_name', 'preferred_username', 'hd', 'tid', 'oid', 'groups'],
    },
    conformIdTokenClaims: false, // the claims go into the ID token, as Google and Entra ID put them
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub, ...opts.claims(sub) }) }),
    pkce: { required: () => true },
    cookies: { keys: ['test-cookie-key'] },
  });
  provider.on('server_error', (_ctx, err) => console.error(err));
  server.on('request', provider.callback());
  // The OP's cookies of the last login, so that a logout ends that session.
  let cookies = new Map<string, string>();
  /** One browser at the OP, with its cookies: fetches `start`, follows the OP's redirects and submits the form that
   *  `answer` picks for each page the OP shows, until the OP sends the browser elsewhere; that URL. */
  async function browse(
    start: string,
    maxSteps: number,
    answer: (html: string, status: number, url: string) => OpForm,
  ): Promise<string> {
    let url = start;
    let form: OpForm | null = null;
    for (let i = 0; i < maxSteps; i++) {
      if (!url.startsWith(issuer)) return url;
      const res = await fetch(form ? form.action : url, {
        method: form ? 'POST' : 'GET',
        redirect: 'manual',
        headers: {
          cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
          ...(form && { 'content-type': 'application/x-www-form-urlencoded' }),
        },
        body: form ? new URLSearchParams(form.fields).toString() : undefined,
      });
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const [k, v] = pair.split('=');
        cookies.set(k, v);
      }
      form = null;
      const location = res.headers.get('location');
      if (location) url = new URL(location, url).href;
      else form = answer(await res.text(), res.status, url);
    }
    throw new Error('too many OP redirects');
  }
  const unexpected = (html: string, status: number) => new Error(`unexpected OP page ${status}: ${html.slice(0, 300)}`);
  /** Follows the OP's redirects and submits its development login and consent forms, in a fresh browser (no OP
   *  session); the URL it sends back. */
  async function login(authUrl: string, accountId: string): Promise<string> {
    cookies = new Map<string, string>();
    return browse(authUrl, 20, (html, status, url): OpForm => {
      if (/name="prompt" value="login"|name="login"/.test(html))
        return { action: url, fields: { prompt: 'login', login: accountId, password: 'x' } };
      if (/name="prompt" value="consent"/.test(html)) return { action: url, fields: { prompt: 'consent' } };
      throw unexpected(html, status);
    });
  }
  /** Ends the last login's OP session: follows the OP's redirects and confirms its logout form; the URL it sends back. */
  async function logout(endSessionUrl: string): Promise<string> {
    return browse(endSessionUrl, 10, (html, status, url): OpForm => {
      const confirm =
        /<form id="op.logoutForm" method="post" action="([^"]+)"><input type="hidden" name="xsrf" value="([^"]+)"\/>/.exec(
          html,
        );
      if (!confirm) throw unexpected(html, status);
      return { action: new URL(confirm[1], url).href, fields: { xsrf: confirm[2], logout: 'yes' } };
    });
  }
  return {
    issuer,
    login,
    logout,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface ForgingOp {
  issuer: string;
  key: jose.CryptoKey;
  publicJwk: jose.JWK;
  /** the ID token (or whole token response) the token endpoint returns next */
  answer: { idToken?: string; body?: string };
  sign(
    claims: Record<string, unknown>,
    header?: Partial<jose.JWTHeaderParameters>,
    key?: jose.CryptoKey | Uint8Array,
  ): Promise<string>;
  close(): Promise<void>;
}

/** A provider whose discovery and JWKS are honest (one RS256 key, kid "k1") and whose token endpoint is not. */
export async function startForgingOp(): Promise<ForgingOp> {
  const { privateKey, publicKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const publicJwk = { ...(await jose.exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const server = createServer();
  const issuer = await listen(server);
  const op: ForgingOp = {
    issuer,
    key: privateKey,
    publicJwk,
    answer: {},
    sign: (claims, header = {}, key = privateKey) =>
      new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1', ...header }).sign(key),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('request', (req, res) => {
    const json = (v: unknown) => {
      res.setHeader('content-type', 'application/json');
      res.end(typeof v === 'string' ? v : JSON.stringify(v));
    };
    if (req.url === '/.well-known/openid-configuration')
      return json({
        issuer,
        authorization_endpoint: `${issuer}/auth`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        id_token_signing_alg_values_supported: ['RS256', 'HS256', 'none'],
        code_challenge_methods_supported: ['S256'],
      });
    if (req.url === '/jwks') return json({ keys: [publicJwk] });
    if (req.url === '/token' && req.method === 'POST') {
      req.resume();
      return req.on('end', () =>
        json(
          op.answer.body ?? { access_token: 'at', token_type: 'Bearer', expires_in: 300, id_token: op.answer.idToken },
        ),
      );
    }
    res.statusCode = 404;
    res.end();
  });
  return op;
}

/** An unsigned token (alg none). */
export const unsignedToken = (claims: Record<string, unknown>) => new jose.UnsecuredJWT(claims).encode();
