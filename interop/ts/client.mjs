#!/usr/bin/env node
// Interop check: the official TypeScript MCP SDK client connects through
// OAuth to an oauth-mcp protected MCP server (examples/example-axum-server).
//
//   node client.mjs <mcp-url>          e.g. http://127.0.0.1:8080/mcp
//
// Everything OAuth-related (RFC 9728 / RFC 8414 discovery, dynamic client
// registration, PKCE, the authorization request, the code exchange, the
// Bearer header) is done by the SDK itself; this file only supplies an
// in-memory `OAuthClientProvider` whose `redirectToAuthorization` signs in
// headlessly, the way a user would in a browser:
//
//   1. GET the authorization URL the SDK built -> the server's login page;
//      take `request_id` (and the form's action) from its HTML;
//   2. POST the login form (request_id, username, password, action=approve)
//      without following redirects -> 303 to `<redirect_uri>?code&state&iss`;
//   3. check the redirect target, `state` (ours) and `iss` (RFC 9207, equal
//      to the discovered issuer), and keep `code`.
//
// The flow is the one the SDK documents for interactive clients:
// `client.connect(transport)` rejects with `UnauthorizedError` after calling
// `redirectToAuthorization`; `transport.finishAuth(code)` exchanges the code;
// a new transport + client with the same provider then connects with the
// token. Then tools/list and tools/call whoami are checked, and the token is
// refreshed through the SDK's `auth()` (refresh_token grant) and used again.
//
// Success: one line of JSON on stdout (`{"ok":true,...}`), exit code 0.
// Failure: the reason (and an HTTP trace) on stderr, exit code 1.
// Demo credentials can be overridden with MCP_DEMO_USER / MCP_DEMO_PASSWORD;
// INTEROP_TIMEOUT_MS sets the overall deadline (default 30000);
// INTEROP_VERBOSE=1 prints the HTTP trace as it happens.
//
// Upstream login (the server signs people in at an identity provider): with
// UPSTREAM_USER / UPSTREAM_PASSWORD set, step 1-2 become a small browser with
// a cookie jar that approves the server's consent page, signs in on the
// provider's login form, approves the provider's consent form and follows the
// callback back to the server, until the 303 to the redirect_uri;
// EXPECT_SUBJECT is then the subject `whoami` must report.

import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const USERNAME = process.env.MCP_DEMO_USER || 'demo-user';
const PASSWORD = process.env.MCP_DEMO_PASSWORD || 'demo-password';
const UPSTREAM_USER = process.env.UPSTREAM_USER || '';
const UPSTREAM_PASSWORD = process.env.UPSTREAM_PASSWORD || '';
const EXPECT_SUBJECT = process.env.EXPECT_SUBJECT || (UPSTREAM_USER ? '' : USERNAME);
const MAX_HOPS = 20;
const TIMEOUT_MS = Number(process.env.INTEROP_TIMEOUT_MS || 30_000);
const VERBOSE = !!process.env.INTEROP_VERBOSE;
// Nothing listens here: the redirect is read from the 303's Location header
// and never followed. A loopback redirect URI, as native MCP clients use.
const REDIRECT_URL = 'http://127.0.0.1:33418/callback';

const SDK_VERSION = (() => {
    try {
        const url = new URL('./node_modules/@modelcontextprotocol/sdk/package.json', import.meta.url);
        return JSON.parse(readFileSync(url, 'utf8')).version;
    } catch {
        return 'unknown';
    }
})();

// ---------------------------------------------------------------- tracing

const trace = [];
function note(line) {
    trace.push(line);
    if (VERBOSE) process.stderr.write(`[trace] ${line}\n`);
}

function redactUrl(u, base) {
    const url = new URL(String(u), base);
    for (const k of ['code', 'code_challenge', 'state']) {
        if (url.searchParams.has(k)) url.searchParams.set(k, '…');
    }
    return url.href;
}

/** `fetch` that records method, URL and status (for failure reports). */
async function tracingFetch(input, init) {
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const url = input instanceof Request ? input.url : String(input);
    try {
        const res = await fetch(input, init);
        const extra = [];
        const www = res.headers.get('www-authenticate');
        if (www) extra.push(`www-authenticate: ${www}`);
        const loc = res.headers.get('location');
        if (loc) extra.push(`location: ${redactUrl(loc, url)}`);
        const ct = res.headers.get('content-type');
        if (ct) extra.push(`content-type: ${ct}`);
        note(`${method} ${redactUrl(url)} -> ${res.status}${extra.length ? ` (${extra.join('; ')})` : ''}`);
        return res;
    } catch (e) {
        note(`${method} ${redactUrl(url)} -> network error: ${e?.message ?? e}${e?.cause ? ` (cause: ${e.cause?.message ?? e.cause})` : ""}`);
        throw e;
    }
}

// ---------------------------------------------------------------- helpers

class InteropFailure extends Error {}

function check(cond, message) {
    if (!cond) throw new InteropFailure(message);
}

/** `Name: message (cause)` of an error. */
function describe(err) {
    const cause = err?.cause ? ` (cause: ${err.cause?.code ?? ''} ${err.cause?.message ?? err.cause})` : '';
    return `${err?.name ?? 'Error'}: ${err?.message ?? err}${cause}`;
}

/** A short text for an HTML error page: its `class="err"` element, else the start. */
function pageSummary(html) {
    const err = html.match(/<[^>]*class="err"[^>]*>([\s\S]*?)<\//i)?.[1];
    return err ? `error shown: ${htmlUnescape(err.replace(/<[^>]*>/g, '')).trim()}` : html.slice(0, 500);
}

function htmlUnescape(s) {
    return s
        .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
        .replace(/&#([0-9]+);/g, (_, d) => String.fromCodePoint(parseInt(d, 10)))
        .replace(/&quot;/g, '"')
        .replace(/&#39;|&apos;/g, "'")
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&amp;/g, '&');
}

/** The value of attribute `name` in one HTML start tag, or undefined. */
function attr(tag, name) {
    const m = tag.match(new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i'));
    return m ? htmlUnescape(m[1] ?? m[2] ?? m[3]) : undefined;
}

/** Finds the login form: its action and the hidden request_id. */
function parseLoginPage(html) {
    const formTag = html.match(/<form\b[^>]*>/i)?.[0];
    check(formTag, `login page has no <form>: ${html.slice(0, 300)}`);
    const inputs = html.match(/<input\b[^>]*>/gi) ?? [];
    const requestIdTag = inputs.find(t => attr(t, 'name') === 'request_id');
    check(requestIdTag, `login page has no <input name="request_id">: ${html.slice(0, 300)}`);
    const requestId = attr(requestIdTag, 'value');
    check(requestId, 'the request_id input has no value');
    return {
        action: attr(formTag, 'action'),
        method: (attr(formTag, 'method') ?? 'get').toLowerCase(),
        requestId
    };
}

// ---------------------------------------------------------------- browser

/** A cookie jar per host (not per port, as in browsers); paths ignored. */
class CookieJar {
    constructor() {
        this.hosts = new Map();
    }
    store(url, res) {
        const host = new URL(url).hostname;
        const jar = this.hosts.get(host) ?? new Map();
        for (const line of res.headers.getSetCookie?.() ?? []) {
            const [pair, ...attrs] = line.split(';');
            const eq = pair.indexOf('=');
            if (eq < 1) continue;
            const name = pair.slice(0, eq).trim();
            const value = pair.slice(eq + 1).trim();
            const gone = attrs.some(a => /^\s*max-age\s*=\s*0\s*$/i.test(a));
            if (gone) jar.delete(name);
            else jar.set(name, value);
        }
        this.hosts.set(host, jar);
    }
    header(url) {
        const jar = this.hosts.get(new URL(url).hostname);
        return jar ? [...jar].map(([n, v]) => `${n}=${v}`).join('; ') : '';
    }
}

/** Every `<form method=post>` of a page: action and inputs. */
function forms(html, base) {
    const out = [];
    for (const m of html.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form>/gi)) {
        const tag = m[0].match(/<form\b[^>]*>/i)[0];
        if ((attr(tag, 'method') ?? 'get').toLowerCase() !== 'post') continue;
        const inputs = {};
        for (const t of m[1].match(/<input\b[^>]*>/gi) ?? []) {
            const n = attr(t, 'name');
            if (n) inputs[n] = attr(t, 'value') ?? '';
        }
        out.push({ action: new URL(attr(tag, 'action') || base, base), inputs, html: m[1] });
    }
    return out;
}

/**
 * Plays a person in a browser from the authorization URL to the redirect to
 * `redirectUrl`: approves this server's consent page, signs in upstream,
 * approves the provider's consent. Returns the final Location.
 */
async function browserSignIn(authUrl, redirectUrl) {
    const jar = new CookieJar();
    const go = async (url, init = {}) => {
        const headers = { ...(init.headers ?? {}) };
        const cookie = jar.header(url);
        if (cookie) headers.cookie = cookie;
        const res = await tracingFetch(url, { ...init, headers, redirect: 'manual' });
        jar.store(url, res);
        return res;
    };
    let url = new URL(authUrl);
    let res = await go(url);
    for (let hop = 0; hop < MAX_HOPS; hop++) {
        const location = res.headers.get('location');
        if (res.status >= 300 && res.status < 400 && location) {
            const next = new URL(location, url);
            if (next.href.startsWith(redirectUrl)) return next;
            url = next;
            res = await go(url);
            continue;
        }
        const html = await res.text();
        check(res.status === 200, `GET ${url.origin}${url.pathname} answered ${res.status}: ${pageSummary(html)}`);
        const all = forms(html, url);
        let form;
        let body;
        if ((form = all.find(f => 'request_id' in f.inputs))) {
            // This server's consent page (upstream login: no password field).
            check(!('password' in form.inputs), 'the server showed a password form, expected its upstream consent page');
            body = { request_id: form.inputs.request_id, action: 'approve' };
        } else if ((form = all.find(f => f.action.pathname.endsWith('/login')))) {
            body = { login: UPSTREAM_USER, password: UPSTREAM_PASSWORD };
        } else if ((form = all.find(f => f.action.pathname.endsWith('/confirm')))) {
            body = {};
        } else {
            throw new InteropFailure(`no form to fill at ${url.href}: ${pageSummary(html)}`);
        }
        url = form.action;
        res = await go(url, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams(body)
        });
    }
    throw new InteropFailure(`no redirect to ${redirectUrl} after ${MAX_HOPS} hops`);
}

// ---------------------------------------------------------------- provider

/**
 * An in-memory `OAuthClientProvider` (see @modelcontextprotocol/sdk
 * client/auth.d.ts) for a public client that signs in headlessly.
 */
class HeadlessOAuthProvider {
    constructor({ username, password, redirectUrl }) {
        this._username = username;
        this._password = password;
        this._redirectUrl = redirectUrl;
        this._clientInformation = undefined;
        this._tokens = undefined;
        this._codeVerifier = undefined;
        this._discovery = undefined;
        this._state = undefined;
        /** Set by redirectToAuthorization; consumed by the caller (finishAuth). */
        this.authorizationCode = undefined;
        /** What happened, for the summary. */
        this.events = [];
    }

    get redirectUrl() {
        return this._redirectUrl;
    }

    get clientMetadata() {
        return {
            client_name: 'oauth-mcp interop (TypeScript MCP SDK)',
            redirect_uris: [this._redirectUrl],
            token_endpoint_auth_method: 'none',
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code']
        };
    }

    state() {
        this._state = randomBytes(16).toString('base64url');
        return this._state;
    }

    clientInformation() {
        return this._clientInformation;
    }

    saveClientInformation(info) {
        this.events.push('saveClientInformation');
        this._clientInformation = info;
    }

    tokens() {
        return this._tokens;
    }

    saveTokens(tokens) {
        this.events.push('saveTokens');
        this._tokens = tokens;
    }

    saveCodeVerifier(verifier) {
        this._codeVerifier = verifier;
    }

    codeVerifier() {
        if (!this._codeVerifier) throw new Error('no PKCE code verifier saved');
        return this._codeVerifier;
    }

    saveDiscoveryState(state) {
        this.events.push('saveDiscoveryState');
        this._discovery = state;
    }

    discoveryState() {
        return this._discovery;
    }

    invalidateCredentials(scope) {
        this.events.push(`invalidateCredentials(${scope})`);
        if (scope === 'all' || scope === 'client') this._clientInformation = undefined;
        if (scope === 'all' || scope === 'tokens') this._tokens = undefined;
        if (scope === 'all' || scope === 'verifier') this._codeVerifier = undefined;
        if (scope === 'all' || scope === 'discovery') this._discovery = undefined;
    }

    /** The issuer the SDK discovered (authorization server metadata). */
    get issuer() {
        return this._discovery?.authorizationServerMetadata?.issuer;
    }

    /**
     * "Redirects the user agent": here, plays the user. Signs in on the
     * server's login page and keeps the authorization code.
     */
    async redirectToAuthorization(authorizationUrl) {
        this.events.push('redirectToAuthorization');
        const authUrl = new URL(String(authorizationUrl));
        note(`authorization request: ${redactUrl(authUrl)}`);
        for (const p of ['response_type', 'client_id', 'code_challenge', 'code_challenge_method', 'redirect_uri', 'state']) {
            check(authUrl.searchParams.get(p), `the SDK's authorization URL lacks ${p}: ${redactUrl(authUrl)}`);
        }
        this.authorizationRequest = {
            scope: authUrl.searchParams.get('scope'),
            resource: authUrl.searchParams.get('resource'),
            code_challenge_method: authUrl.searchParams.get('code_challenge_method')
        };

        if (UPSTREAM_USER) {
            this.login = 'upstream';
            this.acceptAuthorizationResponse(await browserSignIn(authUrl, this._redirectUrl));
            return;
        }
        this.login = 'password';

        // 1. The login page.
        const page = await tracingFetch(authUrl, { redirect: 'manual', headers: { accept: 'text/html' } });
        const html = await page.text();
        check(page.status === 200, `GET ${authUrl.origin}${authUrl.pathname} answered ${page.status}: ${pageSummary(html)}`);
        const form = parseLoginPage(html);
        check(form.method === 'post', `the login form's method is ${form.method}, expected post`);
        const actionUrl = new URL(form.action || authUrl.pathname, authUrl);

        // 2. Sign in and approve.
        const body = new URLSearchParams({
            request_id: form.requestId,
            username: this._username,
            password: this._password,
            action: 'approve'
        });
        const res = await tracingFetch(actionUrl, {
            method: 'POST',
            redirect: 'manual',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body
        });
        const resBody = await res.text();
        check(
            res.status === 303,
            `POST ${actionUrl.href} (login) answered ${res.status}, expected 303: ${pageSummary(resBody)}`
        );
        const location = res.headers.get('location');
        check(location, 'the 303 after login has no Location header');

        this.acceptAuthorizationResponse(new URL(location, actionUrl));
    }

    /** 3. The authorization response (RFC 6749 §4.1.2, RFC 9207). */
    acceptAuthorizationResponse(back) {
        const expected = new URL(this._redirectUrl);
        check(
            back.origin === expected.origin && back.pathname === expected.pathname,
            `redirected to ${back.origin}${back.pathname}, expected the redirect_uri ${expected.href}`
        );
        const p = back.searchParams;
        check(!p.get('error'), `authorization error: ${p.get('error')} ${p.get('error_description') ?? ''}`);
        check(p.get('state') === this._state, `state mismatch: sent ${this._state}, got ${p.get('state')}`);
        const issuer = this.issuer;
        check(issuer, 'no issuer in the discovered authorization server metadata');
        check(p.has('iss'), 'the authorization response has no iss (RFC 9207)');
        check(p.get('iss') === issuer, `iss mismatch: ${p.get('iss')} != discovered issuer ${issuer}`);
        const code = p.get('code');
        check(code, 'the authorization response has no code');
        this.authorizationCode = code;
        note('signed in; authorization code received');
    }
}

// ---------------------------------------------------------------- flow

function newClient() {
    return new Client({ name: 'oauth-mcp-interop-ts', version: '0.0.0' });
}

async function run(mcpUrl) {
    const serverUrl = new URL(mcpUrl);
    const provider = new HeadlessOAuthProvider({ username: USERNAME, password: PASSWORD, redirectUrl: REDIRECT_URL });

    // First connect: 401 -> SDK discovery, registration, redirectToAuthorization
    // -> UnauthorizedError.
    const transport1 = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider, fetch: tracingFetch });
    const client1 = newClient();
    let firstError;
    try {
        await client1.connect(transport1);
    } catch (e) {
        firstError = e;
    }
    check(firstError, 'the first connect succeeded without authorization: is the MCP endpoint protected?');
    if (firstError instanceof InteropFailure) throw firstError; // from the headless login
    if (!(firstError instanceof UnauthorizedError)) {
        throw new InteropFailure(`the first connect failed with ${describe(firstError)}, expected UnauthorizedError`);
    }
    check(provider.authorizationCode, 'UnauthorizedError, but redirectToAuthorization was never called');
    const client = provider.clientInformation();
    check(client?.client_id, 'the SDK did not register a client');

    // The code exchange, by the SDK (PKCE verifier, resource, redirect_uri).
    await transport1.finishAuth(provider.authorizationCode);
    await client1.close().catch(() => {});
    const tokens = provider.tokens();
    check(tokens?.access_token, 'finishAuth saved no access token');
    check(String(tokens.token_type).toLowerCase() === 'bearer', `token_type is ${tokens.token_type}, expected Bearer`);

    // Second connect, with the token.
    const transport2 = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider, fetch: tracingFetch });
    const client2 = newClient();
    await client2.connect(transport2);

    const { tools } = await client2.listTools();
    const names = tools.map(t => t.name).sort();
    for (const want of ['whoami', 'admin_echo']) {
        check(names.includes(want), `tools/list lacks ${want}: ${JSON.stringify(names)}`);
    }

    const result = await client2.callTool({ name: 'whoami', arguments: {} });
    check(!result.isError, `whoami returned an error: ${JSON.stringify(result.content)}`);
    const text = result.content?.find(c => c.type === 'text')?.text;
    check(typeof text === 'string', `whoami returned no text content: ${JSON.stringify(result.content)}`);
    let who;
    try {
        who = JSON.parse(text);
    } catch {
        throw new InteropFailure(`whoami text is not JSON: ${text}`);
    }
    if (EXPECT_SUBJECT) {
        check(who.subject === EXPECT_SUBJECT, `whoami subject is ${JSON.stringify(who.subject)}, expected ${EXPECT_SUBJECT}`);
    }
    check(who.audience === serverUrl.href, `whoami audience is ${JSON.stringify(who.audience)}, expected ${serverUrl.href}`);
    check(who.client_id === client.client_id, `whoami client_id ${who.client_id} != registered ${client.client_id}`);
    check(Array.isArray(who.scopes) && who.scopes.includes('mcp'), `whoami scopes lack mcp: ${JSON.stringify(who.scopes)}`);

    // Refresh (refresh_token grant) through the SDK's own `auth()`: with a
    // stored refresh token it refreshes instead of redirecting; the live
    // transport reads the new access token from the provider per request.
    check(tokens.refresh_token, 'the token response has no refresh_token (grant_types included refresh_token)');
    const redirectsBefore = provider.events.filter(e => e === 'redirectToAuthorization').length;
    const refreshResult = await auth(provider, { serverUrl, fetchFn: tracingFetch });
    check(refreshResult === 'AUTHORIZED', `auth() with a refresh token returned ${refreshResult}, expected AUTHORIZED`);
    check(
        provider.events.filter(e => e === 'redirectToAuthorization').length === redirectsBefore,
        'the refresh failed and the SDK fell back to a new authorization request'
    );
    const refreshed = provider.tokens();
    check(refreshed.access_token !== tokens.access_token, 'the refresh returned the same access token');
    check(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'the refresh token was not rotated');
    const again = await client2.callTool({ name: 'whoami', arguments: {} });
    const who2 = JSON.parse(again.content?.find(c => c.type === 'text')?.text ?? 'null');
    check(!again.isError && who2?.subject === who.subject, `whoami after refresh: ${JSON.stringify(again.content)}`);

    const summary = {
        ok: true,
        sdk: `@modelcontextprotocol/sdk@${SDK_VERSION}`,
        node: process.version,
        mcp_url: serverUrl.href,
        issuer: provider.issuer,
        server: client2.getServerVersion(),
        protocol_version: transport2.protocolVersion,
        session_id: transport2.sessionId ?? null,
        client_id: client.client_id,
        authorization_request: provider.authorizationRequest,
        login: provider.login,
        token: { token_type: tokens.token_type, expires_in: tokens.expires_in, scope: tokens.scope, refresh_token: !!tokens.refresh_token },
        refreshed: true,
        tools: names,
        whoami: who
    };
    await client2.close().catch(() => {});
    return summary;
}

// ---------------------------------------------------------------- main

function fail(message) {
    process.stderr.write(`interop FAILED: ${message}\n`);
    if (trace.length && !VERBOSE) {
        process.stderr.write(`HTTP trace:\n${trace.map(l => `  ${l}`).join('\n')}\n`);
    }
    process.exit(1);
}

const mcpUrl = process.argv[2];
if (!mcpUrl) {
    process.stderr.write('usage: node client.mjs <mcp-url>\n');
    process.exit(2);
}
try {
    new URL(mcpUrl);
} catch {
    fail(`not a URL: ${mcpUrl}`);
}

const deadline = setTimeout(() => fail(`timed out after ${TIMEOUT_MS} ms`), TIMEOUT_MS);

run(mcpUrl).then(
    summary => {
        clearTimeout(deadline);
        // Exit once the line is flushed (stdout may be a pipe).
        process.stdout.write(`${JSON.stringify(summary)}\n`, () => process.exit(0));
    },
    err => {
        const detail = err instanceof InteropFailure ? err.message : `${describe(err)}${err?.stack ? `\n${err.stack}` : ''}`;
        fail(detail);
    }
);
