#!/usr/bin/env node
// Test fixture for `oauth-mcp trace`: an OAuth-protected MCP server built
// with the official TypeScript MCP SDK, the way the SDK's own example
// (`examples/server/simpleStreamableHttp.js --oauth`) builds it:
//
//   - an authorization server on its own port: the SDK's `mcpAuthRouter`
//     over the SDK's demo provider `DemoInMemoryAuthProvider` (dynamic
//     registration, PKCE S256; its "login" approves every request at once
//     and redirects with the code; opaque UUID tokens; no refresh tokens),
//     plus the `/introspect` endpoint the example adds;
//   - the MCP server on another port: streamable HTTP (sessions, SSE
//     answers) behind `requireBearerAuth`, which checks tokens through
//     introspection, with RFC 9728 metadata from `mcpAuthMetadataRouter`.
//
// Unlike the SDK example, both listen on 127.0.0.1 only, on ports given on
// the command line (default: any free port), and name themselves with
// 127.0.0.1 (the example says `localhost`).
//
//   node server.mjs [--mcp-port N] [--auth-port N] [--strict]
//
// `--strict` makes the MCP server accept only tokens whose introspected
// audience is its own URL (the example's `--oauth-strict`).
//
// Once both listen, one line of JSON goes to stdout:
//   {"mcp_url":"http://127.0.0.1:P/mcp","issuer":"http://127.0.0.1:A/","sdk":"1.32.2"}
// The process ends when stdin closes (its parent went away) or on SIGTERM.

import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

import express from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
    createOAuthMetadata,
    getOAuthProtectedResourceMetadataUrl,
    mcpAuthMetadataRouter,
    mcpAuthRouter
} from '@modelcontextprotocol/sdk/server/auth/router.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { DemoInMemoryAuthProvider } from '@modelcontextprotocol/sdk/examples/server/demoInMemoryOAuthProvider.js';

const SCOPES = ['mcp:tools'];

function arg(name, fallback) {
    const i = process.argv.indexOf(name);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const strict = process.argv.includes('--strict');

const sdkVersion = (() => {
    try {
        const url = new URL('./node_modules/@modelcontextprotocol/sdk/package.json', import.meta.url);
        return JSON.parse(readFileSync(url, 'utf8')).version;
    } catch {
        return 'unknown';
    }
})();

/** Listens on 127.0.0.1:`port` (0: any free port); resolves with the server. */
function listen(port) {
    return new Promise((resolve, reject) => {
        const server = http.createServer();
        server.once('error', reject);
        server.listen(Number(port), '127.0.0.1', () => resolve(server));
    });
}

const authHttp = await listen(arg('--auth-port', '0'));
const mcpHttp = await listen(arg('--mcp-port', '0'));
const authServerUrl = new URL(`http://127.0.0.1:${authHttp.address().port}`);
const mcpServerUrl = new URL(`http://127.0.0.1:${mcpHttp.address().port}/mcp`);

// ------------------------------------------------ the authorization server

const provider = new DemoInMemoryAuthProvider(
    strict ? resource => !!resource && resource.toString() === mcpServerUrl.toString() : undefined
);
const authApp = express();
authApp.use(express.json());
authApp.use(express.urlencoded());
authApp.use(mcpAuthRouter({ provider, issuerUrl: authServerUrl, scopesSupported: SCOPES }));
authApp.post('/introspect', async (req, res) => {
    try {
        const { token } = req.body;
        if (!token) {
            res.status(400).json({ error: 'Token is required' });
            return;
        }
        const info = await provider.verifyAccessToken(token);
        res.json({
            active: true,
            client_id: info.clientId,
            scope: info.scopes.join(' '),
            exp: info.expiresAt,
            aud: info.resource
        });
    } catch (error) {
        res.status(401).json({ active: false, error: 'Unauthorized', error_description: `Invalid token: ${error}` });
    }
});
authHttp.on('request', authApp);

const oauthMetadata = createOAuthMetadata({ provider, issuerUrl: authServerUrl, scopesSupported: SCOPES });
oauthMetadata.introspection_endpoint = new URL('/introspect', authServerUrl).href;

// ------------------------------------------------ the MCP server

function mcpServer() {
    const server = new McpServer({ name: 'ts-sdk-oauth-demo', version: sdkVersion }, { capabilities: { tools: {} } });
    server.registerTool('whoami', { description: 'The client id and scopes of the calling token.' }, async extra => ({
        content: [
            {
                type: 'text',
                text: JSON.stringify({ client_id: extra.authInfo?.clientId, scopes: extra.authInfo?.scopes ?? [] })
            }
        ]
    }));
    return server;
}

const tokenVerifier = {
    async verifyAccessToken(token) {
        const response = await fetch(oauthMetadata.introspection_endpoint, {
            method: 'POST',
            headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ token }).toString()
        });
        if (!response.ok) {
            throw new Error(`Invalid or expired token: ${await response.text().catch(() => '')}`);
        }
        const data = await response.json();
        const audience = [data.aud ?? []]
            .flat()
            .find(aud => URL.canParse(aud) && new URL(aud).origin === mcpServerUrl.origin);
        return {
            token,
            clientId: data.client_id,
            scopes: data.scope ? data.scope.split(' ') : [],
            expiresAt: data.exp,
            resource: audience ? new URL(audience) : undefined
        };
    }
};

const app = createMcpExpressApp();
app.use(
    mcpAuthMetadataRouter({
        oauthMetadata,
        resourceServerUrl: mcpServerUrl,
        scopesSupported: SCOPES,
        resourceName: 'TypeScript SDK demo MCP server'
    })
);
const auth = requireBearerAuth({
    verifier: tokenVerifier,
    requiredScopes: [],
    resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(mcpServerUrl),
    expectedResource: strict ? mcpServerUrl : undefined
});

const transports = new Map();
app.post('/mcp', auth, async (req, res) => {
    try {
        const sessionId = req.headers['mcp-session-id'];
        let transport = sessionId ? transports.get(sessionId) : undefined;
        if (!transport) {
            if (sessionId) {
                res.status(404).json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
                return;
            }
            if (!isInitializeRequest(req.body)) {
                res.status(400).json({ jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request: No valid session ID provided' }, id: null });
                return;
            }
            transport = new StreamableHTTPServerTransport({
                sessionIdGenerator: () => randomUUID(),
                onsessioninitialized: sid => transports.set(sid, transport)
            });
            transport.onclose = () => {
                if (transport.sessionId) transports.delete(transport.sessionId);
            };
            await mcpServer().connect(transport);
        }
        await transport.handleRequest(req, res, req.body);
    } catch (error) {
        process.stderr.write(`error handling an MCP request: ${error?.stack ?? error}\n`);
        if (!res.headersSent) {
            res.status(500).json({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: null });
        }
    }
});
const sessionRequest = async (req, res) => {
    const transport = transports.get(req.headers['mcp-session-id']);
    if (!transport) {
        res.status(404).json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
        return;
    }
    await transport.handleRequest(req, res);
};
app.get('/mcp', auth, sessionRequest);
app.delete('/mcp', auth, sessionRequest);
mcpHttp.on('request', app);

process.stdout.write(`${JSON.stringify({ mcp_url: mcpServerUrl.href, issuer: oauthMetadata.issuer, sdk: sdkVersion })}\n`);

function shutdown() {
    for (const t of transports.values()) t.close().catch(() => {});
    authHttp.close();
    mcpHttp.close();
    process.exit(0);
}
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
