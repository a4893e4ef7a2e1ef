// A real, certified OAuth 2.0 / OpenID Connect authorization server
// (panva's `oidc-provider`, pinned in package.json) on loopback, for the
// oauth-mcp integration tests: it issues RFC 9068 JWT access tokens bound to
// the MCP server's resource URL (RFC 8707 resource indicators), opaque access
// tokens, and answers RFC 7662 introspection.
//
//   node server.mjs            (configured by environment variables)
//
// PORT            port on 127.0.0.1 (default 0: an ephemeral port)
// ISSUER          issuer identifier (default http://127.0.0.1:<port>)
// RESOURCE        the MCP server's resource URL (default http://127.0.0.1:5555/mcp)
// RESOURCE_OTHER  a second resource server (default http://127.0.0.1:5556/other)
// KEY_ID          comma-separated key ids (default "key-1"): each names a
//                 deterministic EC P-256 key derived from the id, with the id
//                 as its `kid`; the first signs, all are published at jwks_uri.
//                 Restart with another id to simulate a signing-key rotation.
// JWKS_FILE       a private JWKS (JSON) file used instead of KEY_ID; its first
//                 signing key signs.
// ACCESS_TOKEN_TTL  access token lifetime in seconds (default 3600)
// UPSTREAM_REDIRECT_URIS  comma-separated redirect URIs of the upstream-login
//                 clients below (default http://127.0.0.1:5555/upstream/callback):
//                 an oauth-mcp server's `<public-url>/upstream/callback`
// INTERACTIONS    "headless" (default): every authorization request is approved
//                 for the demo user without a page; "forms": real HTML login
//                 and consent forms (users and passwords below)
// EXIT_ON_STDIN_CLOSE  "1": exit when stdin closes (the parent died)
// DEBUG           e.g. "oidc-provider:*" for the provider's own debug log
//
// Clients (all confidential, client_secret_basic or client_secret_post):
//   mcp-rs / mcp-rs-secret                  JWT access tokens (client_credentials,
//                                           authorization_code, refresh_token)
//   mcp-rs-opaque / mcp-rs-opaque-secret    opaque access tokens for the same
//                                           resources (client_credentials)
//   mcp-resource-server / mcp-resource-server-secret
//                                           no grants: for introspection only
// Scopes: `mcp`, `admin`. Without a `resource` parameter a token is opaque and
// has no audience (usable at introspection only).
//
// Upstream identity provider (an oauth-mcp server logging its users in here;
// OpenID scopes `openid email profile groups offline_access`, PKCE S256
// required, redirect URIs from UPSTREAM_REDIRECT_URIS):
//   mcp-upstream / mcp-upstream-secret        confidential (client_secret_basic)
//   mcp-upstream-public                       public (PKCE only)
//   mcp-upstream-other / mcp-upstream-other-secret
//                                             a second confidential client (its
//                                             ID tokens are for another audience)
// Users (INTERACTIONS=forms; claims at UserInfo, `sub` in the ID token):
//   alice / alice-password     sub u-alice-1001, alice@example.com (verified),
//                              groups [mcp-users]
//   bob / bob-password         sub u-bob-1002, bob@example.org (verified),
//                              groups [admins, mcp-users]
//   mallory / mallory-password sub u-mallory-1003, mallory@example.com (NOT
//                              verified), no groups
//
// On stdout, once listening: `READY <issuer> <port>` (oidc-provider may print
// NOTICE lines too). Only loopback: nothing is fetched from the network.

import { createHash, createECDH } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

function env(name, fallback) {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

function fail(message) {
  console.error(`oidc-provider server: ${message}`);
  process.exit(2);
}

const PORT = Number(env('PORT', '0'));
if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) fail(`bad PORT ${process.env.PORT}`);
const RESOURCE = env('RESOURCE', 'http://127.0.0.1:5555/mcp');
const RESOURCE_OTHER = env('RESOURCE_OTHER', 'http://127.0.0.1:5556/other');
const KEY_IDS = env('KEY_ID', 'key-1').split(',').map((k) => k.trim()).filter(Boolean);
const ACCESS_TOKEN_TTL = Number(env('ACCESS_TOKEN_TTL', '3600'));
if (!Number.isSafeInteger(ACCESS_TOKEN_TTL) || ACCESS_TOKEN_TTL <= 0) {
  fail(`bad ACCESS_TOKEN_TTL ${process.env.ACCESS_TOKEN_TTL}`);
}
const SCOPES = ['mcp', 'admin'];
// The demo user an authorization_code request is approved for, headlessly.
const DEMO_USER = 'demo-user';
const UPSTREAM_REDIRECT_URIS = env('UPSTREAM_REDIRECT_URIS', 'http://127.0.0.1:5555/upstream/callback')
  .split(',').map((u) => u.trim()).filter(Boolean);
const INTERACTIONS = env('INTERACTIONS', 'headless');
if (!['headless', 'forms'].includes(INTERACTIONS)) fail(`bad INTERACTIONS ${INTERACTIONS}`);
const OIDC_SCOPES = ['openid', 'email', 'profile', 'groups', 'offline_access'];
// The users of the login form: password and claims.
const USERS = {
  alice: {
    password: 'alice-password',
    claims: {
      sub: 'u-alice-1001', preferred_username: 'alice', name: 'Alice Example',
      email: 'alice@example.com', email_verified: true, groups: ['mcp-users'],
    },
  },
  bob: {
    password: 'bob-password',
    claims: {
      sub: 'u-bob-1002', preferred_username: 'bob', name: 'Bob Example',
      email: 'bob@example.org', email_verified: true, groups: ['admins', 'mcp-users'],
    },
  },
  mallory: {
    password: 'mallory-password',
    claims: {
      sub: 'u-mallory-1003', preferred_username: 'mallory', name: 'Mallory',
      email: 'mallory@example.com', email_verified: false, groups: [],
    },
  },
};
const ACCOUNTS = new Map(Object.values(USERS).map((u) => [u.claims.sub, u.claims]));

// ------------------------------------------------------------------ keys

// The order n of the P-256 group.
const P256_N = BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551');

/// A deterministic EC P-256 private JWK for `kid`: d = SHA-256 of the id
/// (re-hashed with a counter in the astronomically unlikely case d >= n).
function deterministicP256(kid) {
  for (let counter = 0; ; counter += 1) {
    const d = createHash('sha256').update(`oauth-mcp interop oidc-provider key\0${kid}\0${counter}`).digest();
    const scalar = BigInt(`0x${d.toString('hex')}`);
    if (scalar === 0n || scalar >= P256_N) continue;
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(d);
    const pub = ecdh.getPublicKey(); // 0x04 || x || y
    return {
      kty: 'EC',
      crv: 'P-256',
      kid,
      use: 'sig',
      alg: 'ES256',
      x: pub.subarray(1, 33).toString('base64url'),
      y: pub.subarray(33, 65).toString('base64url'),
      d: d.toString('base64url'),
    };
  }
}

function loadJwks() {
  const file = env('JWKS_FILE', undefined);
  if (file) {
    let jwks;
    try {
      jwks = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      fail(`cannot read JWKS_FILE ${file}: ${e.message}`);
    }
    if (!Array.isArray(jwks?.keys) || jwks.keys.length === 0) fail(`JWKS_FILE ${file} has no keys`);
    return jwks;
  }
  if (KEY_IDS.length === 0) fail('KEY_ID is empty');
  return { keys: KEY_IDS.map(deterministicP256) };
}

const jwks = loadJwks();
// The algorithm of the signing key: ES256 for the KEY_ID keys.
const signingKey = jwks.keys.find((k) => k.use === undefined || k.use === 'sig');
if (!signingKey) fail('no signing key');
const SIGNING_ALG = signingKey.alg
  ?? ({ EC: { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[signingKey.crv], RSA: 'RS256', OKP: 'EdDSA' })[signingKey.kty];
if (!SIGNING_ALG) fail(`cannot tell the algorithm of key ${signingKey.kid}`);

// ------------------------------------------------------------------ provider

const clients = [
  {
    client_id: 'mcp-rs',
    client_secret: 'mcp-rs-secret',
    grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: SCOPES.join(' '),
  },
  {
    client_id: 'mcp-rs-opaque',
    client_secret: 'mcp-rs-opaque-secret',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: SCOPES.join(' '),
  },
  {
    client_id: 'mcp-resource-server',
    client_secret: 'mcp-resource-server-secret',
    grant_types: [],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  },
  // Upstream identity provider for oauth-mcp servers.
  ...[
    ['mcp-upstream', 'mcp-upstream-secret'],
    ['mcp-upstream-public', undefined],
    ['mcp-upstream-other', 'mcp-upstream-other-secret'],
  ].map(([client_id, client_secret]) => ({
    client_id,
    ...(client_secret ? { client_secret } : {}),
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: UPSTREAM_REDIRECT_URIS,
    token_endpoint_auth_method: client_secret ? 'client_secret_basic' : 'none',
    scope: OIDC_SCOPES.join(' '),
  })),
];
const UPSTREAM_CLIENTS = new Set(['mcp-upstream', 'mcp-upstream-public', 'mcp-upstream-other']);

const RESOURCES = new Set([RESOURCE, RESOURCE_OTHER]);

/** @type {import('oidc-provider').Configuration} */
const configuration = {
  clients,
  jwks,
  // Resource scopes, advertised in scopes_supported; the OpenID ones for
  // the upstream-login clients.
  scopes: [...OIDC_SCOPES, ...SCOPES],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'name'],
    groups: ['groups'],
  },
  responseTypes: ['code'],
  clientDefaults: {
    grant_types: ['authorization_code'],
    id_token_signed_response_alg: SIGNING_ALG,
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  },
  // Every artifact lives in memory (the default adapter): a restart forgets
  // all opaque tokens, grants and sessions.
  cookies: { keys: ['oauth-mcp-interop-cookie-key-not-a-secret'] },
  features: {
    // No login UI: authorization requests are approved headlessly below.
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    rpInitiatedLogout: { enabled: false },
    resourceIndicators: {
      enabled: true,
      // No resource requested: no resource server, so an opaque token.
      defaultResource: async () => undefined,
      // An authorization code's resource also applies when the token request omits it.
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resourceIndicator, client) => {
        if (!RESOURCES.has(resourceIndicator)) {
          throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
        }
        const opaque = client?.clientId === 'mcp-rs-opaque';
        return {
          scope: SCOPES.join(' '),
          audience: resourceIndicator,
          accessTokenTTL: ACCESS_TOKEN_TTL,
          accessTokenFormat: opaque ? 'opaque' : 'jwt',
          ...(opaque ? {} : { jwt: { sign: { alg: SIGNING_ALG } } }),
        };
      },
    },
  },
  ttl: {
    AccessToken: () => ACCESS_TOKEN_TTL,
    ClientCredentials: () => ACCESS_TOKEN_TTL,
    AuthorizationCode: () => 60,
    IdToken: () => 3600,
    RefreshToken: () => 14 * 24 * 3600,
    Interaction: () => 600,
    Session: () => 3600,
    Grant: () => 14 * 24 * 3600,
  },
  // A refresh token with every authorization_code grant of a client allowed
  // the refresh_token grant (no offline_access scope needed).
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  clientBasedCORS: () => true,
  findAccount: async (_ctx, sub) => ({
    accountId: sub,
    claims: async () => ACCOUNTS.get(sub) ?? { sub },
  }),
  // Where the provider sends the user agent to log in / consent (handled below).
  interactions: {
    url: async (_ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  // PKCE required of the upstream-login clients; optional for the others.
  pkce: { required: (_ctx, client) => UPSTREAM_CLIENTS.has(client.clientId) },
};

// Listen first (PORT 0 resolves the port), then build the provider, whose
// issuer depends on the port.
let handler = (_req, res) => {
  res.statusCode = 503;
  res.end('starting');
};
const server = createServer((req, res) => handler(req, res));
server.on('error', (e) => fail(`cannot listen on 127.0.0.1:${PORT}: ${e.message}`));
server.listen(PORT, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = env('ISSUER', `http://127.0.0.1:${port}`);
  let provider;
  try {
    provider = new Provider(issuer, configuration);
  } catch (e) {
    fail(`bad configuration: ${e.stack ?? e}`);
  }
  provider.on('server_error', (_ctx, e) => console.error('oidc-provider server_error:', e));
  const callback = provider.callback();

  // Consent: grant everything the pending request asks for.
  async function grantWhatWasAsked(req, res, details) {
    const { prompt, params } = details;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  // Headless interactions: log the demo user in and grant what was asked.
  async function interaction(req, res) {
    try {
      const details = await provider.interactionDetails(req, res);
      const { prompt } = details;
      if (prompt.name === 'login') {
        await provider.interactionFinished(req, res, { login: { accountId: DEMO_USER } }, { mergeWithLastSubmission: false });
        return;
      }
      await grantWhatWasAsked(req, res, details);
    } catch (e) {
      console.error('interaction failed:', e);
      res.statusCode = 400;
      res.setHeader('content-type', 'text/plain');
      res.end(`interaction failed: ${e.message}`);
    }
  }

  handler = (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      if (INTERACTIONS === 'forms') {
        formInteraction(req, res);
      } else if (req.method === 'GET') {
        interaction(req, res);
      } else {
        res.statusCode = 405;
        res.end();
      }
    } else {
      callback(req, res);
    }
  };

  // ---------------------------------------------------------- login forms

  function page(res, status, title, body) {
    res.statusCode = status;
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    res.end(`<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`);
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  }

  async function readForm(req) {
    const chunks = [];
    let size = 0;
    for await (const chunk of req) {
      size += chunk.length;
      if (size > 16 * 1024) throw new Error('form too large');
      chunks.push(chunk);
    }
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  }

  function loginForm(uid, error) {
    return `${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<label>Username <input name="login" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${uid}/abort"><button type="submit">Cancel</button></form>`;
  }

  // GET /interaction/:uid shows the login or consent form; POST
  // /interaction/:uid/login, /confirm and /abort complete it.
  async function formInteraction(req, res) {
    try {
      const path = new URL(req.url, 'http://x').pathname.split('/').filter(Boolean);
      const [, uid, action] = path;
      const details = await provider.interactionDetails(req, res);
      if (details.uid !== uid) throw new Error('interaction mismatch');
      const { prompt, params } = details;
      if (req.method === 'GET' && action === undefined) {
        if (prompt.name === 'login') {
          page(res, 200, 'Sign in', loginForm(uid));
        } else {
          const client = await provider.Client.find(params.client_id);
          const scopes = String(params.scope ?? '').split(' ').filter(Boolean);
          page(res, 200, 'Authorize', `<p><b>${escapeHtml(client?.clientId ?? params.client_id)}</b> asks for: ${scopes.map(escapeHtml).join(', ')}</p>
<form method="post" action="/interaction/${uid}/confirm"><button type="submit">Allow</button></form>
<form method="post" action="/interaction/${uid}/abort"><button type="submit">Deny</button></form>`);
        }
        return;
      }
      if (req.method !== 'POST') {
        res.statusCode = 405;
        res.end();
        return;
      }
      const form = await readForm(req);
      if (action === 'login') {
        const user = USERS[form.get('login') ?? ''];
        if (!user || user.password !== form.get('password')) {
          page(res, 401, 'Sign in', loginForm(uid, 'Wrong username or password.'));
          return;
        }
        await provider.interactionFinished(req, res, { login: { accountId: user.claims.sub } }, { mergeWithLastSubmission: false });
      } else if (action === 'confirm') {
        await grantWhatWasAsked(req, res, details);
      } else if (action === 'abort') {
        await provider.interactionFinished(req, res, {
          error: 'access_denied',
          error_description: 'the user cancelled the sign-in',
        }, { mergeWithLastSubmission: false });
      } else {
        res.statusCode = 404;
        res.end();
      }
    } catch (e) {
      console.error('interaction failed:', e);
      page(res, 400, 'Sign-in failed', `<p>${escapeHtml(e.message)}</p>`);
    }
  }
  console.log(`READY ${issuer} ${port}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
if (env('EXIT_ON_STDIN_CLOSE', '') === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
