// One browser scenario against a running oauth-mcp server: a person with a
// keyboard (Tab, typing, Enter; never a click) in headless Chromium.
//
//   node scenario.mjs '<spec as JSON>'
//
// The spec (written by examples/battery/src/browser.rs) names the Chromium
// binary, the viewport, the URL to open, the credentials to type, the
// client's redirect URI and where screenshots go. This program only acts and
// observes: it prints one JSON summary line (what each page showed, where
// the browser was finally sent) and the Rust test asserts on it.
//
// The browser may reach loopback addresses only: every other request is
// aborted. The authorization response is read from the URL of the request
// the browser makes to the client's redirect URI.

import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const spec = JSON.parse(process.argv[2] ?? '{}');
const STEP_TIMEOUT_MS = 15_000;
// Ends the run (closing Chromium) before the Rust side's own deadline kills
// Node, which would leave Chromium behind.
const DEADLINE_MS = spec.deadline_ms ?? 60_000;
const MAX_TABS = 40;

// Launch flags from shared DEPENDENCIES.md §10: no GPU, no QUIC, and none of
// Chromium's background traffic (the network is closed).
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const summary = { ok: false, scenario: spec.scenario, width: spec.width, pages: [], redirect: null, blocked: [] };
let context;
let userDataDir;

function isLoopback(url) {
  const h = url.hostname;
  return h === '127.0.0.1' || h === 'localhost' || h === '[::1]' || h === '::1' || h.startsWith('127.');
}

async function closeAll() {
  try {
    await context?.close();
  } catch {
    // already gone
  }
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
}

const watchdog = setTimeout(async () => {
  summary.failure = `the scenario did not finish within ${DEADLINE_MS} ms`;
  process.stdout.write(JSON.stringify(summary) + '\n');
  await closeAll();
  process.exit(3);
}, DEADLINE_MS);

// What a person sees on the current page.
async function observe(page, label, status) {
  const shot = join(spec.screenshot_dir, `${spec.name}-${label}.png`);
  await page.screenshot({ path: shot, fullPage: true });
  const seen = await page.evaluate(() => {
    const visible = (el) => {
      if (!el) return false;
      const r = el.getBoundingClientRect();
      const s = getComputedStyle(el);
      return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
    };
    const text = (sel) => {
      const el = document.querySelector(sel);
      return visible(el) ? el.innerText.trim() : null;
    };
    const button = (value) => visible(document.querySelector(`button[name="action"][value="${value}"]`));
    const active = document.activeElement;
    const error = document.querySelector('#error');
    return {
      url: location.href,
      title: document.title,
      scroll_width: document.documentElement.scrollWidth,
      inner_width: window.innerWidth,
      client_name: text('#client-name'),
      redirect_host: text('#redirect-host'),
      unverified_label: text('#unverified-label'),
      loopback_warning: text('#loopback-warning'),
      error: text('#error'),
      error_focused: !!(error && active && (active === error || error.contains(active))),
      username_field: visible(document.querySelector('#username')),
      password_field: visible(document.querySelector('#password')),
      username_value: document.querySelector('#username')?.value ?? null,
      invalid_fields: [...document.querySelectorAll('[aria-invalid="true"]')].map((e) => e.id || e.name || e.tagName),
      approve_button: button('approve'),
      deny_button: button('deny'),
      body_text: document.body?.innerText ?? '',
    };
  });
  const entry = { label, status, screenshot: shot, ...seen };
  summary.pages.push(entry);
  return entry;
}

// Presses Tab until the focused element matches `selector`.
async function tabTo(page, selector) {
  const trail = [];
  for (let i = 0; i < MAX_TABS; i++) {
    if (await page.evaluate((sel) => document.activeElement?.matches(sel) ?? false, selector)) return;
    await page.keyboard.press('Tab');
    trail.push(
      await page.evaluate(() => {
        const a = document.activeElement;
        if (!a || a === document.body) return 'body';
        return a.id ? `#${a.id}` : `${a.tagName.toLowerCase()}${a.name ? `[name=${a.name}]` : ''}${a.value ? `[value=${a.value}]` : ''}`;
      }),
    );
  }
  throw new Error(`Tab never reached ${selector} in ${MAX_TABS} presses; focus went ${trail.join(' -> ')}`);
}

// The HTTP status of the main frame's latest navigation response: after a
// redirect chain, that of the page finally shown.
let lastStatus = null;

// Presses Enter on the focused element and waits for the page it leads to;
// returns that page's HTTP status.
async function enterAndWait(page) {
  const navigated = page.waitForEvent('framenavigated', {
    predicate: (f) => f === page.mainFrame(),
    timeout: STEP_TIMEOUT_MS,
  });
  lastStatus = null;
  await page.keyboard.press('Enter');
  await navigated;
  await page.waitForLoadState('load');
  return lastStatus;
}

async function typeInto(page, selector, value) {
  await tabTo(page, selector);
  // Select what is there (a kept username) so that typing replaces it.
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.type(value);
}

const button = (action) => `button[name="action"][value="${action}"]`;

// Signs in on the page `current` describes (if it asks for credentials), then
// presses the `action` button (approve or deny) of the consent step, on the
// same page or the next one. With `enter`, the sign-in is submitted by Enter
// in the password field (the form's default button); otherwise by Tab to the
// action button when the sign-in page has one. Stops, leaving the judging to
// the caller, when a sign-in is refused or there is no such button.
async function signInAndDecide(page, current, { password, action, enter, label }) {
  if (current.username_field) {
    if (current.username_value !== spec.username) await typeInto(page, '#username', spec.username);
    await typeInto(page, '#password', password);
    if (enter || !current[`${action}_button`]) {
      const status = await enterAndWait(page);
      if (summary.redirect) return current;
      current = await observe(page, label, status);
      if (current.password_field) return current;
    }
  }
  if (!current[`${action}_button`]) return current;
  await tabTo(page, button(action));
  const status = await enterAndWait(page);
  if (!summary.redirect) current = await observe(page, 'after-decision', status);
  return current;
}

async function main() {
  mkdirSync(spec.screenshot_dir, { recursive: true });
  userDataDir = mkdtempSync(join(tmpdir(), 'oauth-mcp-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: spec.chromium,
    headless: true,
    args: FLAGS,
    viewport: { width: spec.width, height: spec.height },
    timeout: STEP_TIMEOUT_MS,
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  // The authorization response: the server redirects (303) to the client's
  // redirect URI. Redirect targets do not pass through routes, so requests
  // are watched instead; nothing listens there, and the browser's own
  // "cannot connect" page that follows is not looked at.
  context.on('request', (request) => {
    if (spec.redirect_uri && !summary.redirect && request.url().startsWith(spec.redirect_uri)) {
      summary.redirect = request.url();
    }
  });
  await context.route(
    () => true,
    async (route) => {
      const url = new URL(route.request().url());
      if (url.protocol === 'data:' || url.protocol === 'about:' || isLoopback(url)) {
        await route.continue();
      } else {
        summary.blocked.push(url.href);
        await route.abort();
      }
    },
  );
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('response', (r) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) lastStatus = r.status();
  });

  const response = await page.goto(spec.url, { waitUntil: 'load' });
  const first = await observe(page, 'start', response?.status() ?? null);
  switch (spec.scenario) {
    case 'unknown_client':
    case 'unregistered_redirect_uri':
      // Nothing to do but look: the page must not send the browser on.
      break;
    case 'login':
      await signInAndDecide(page, first, { password: spec.password, action: 'approve', enter: true, label: 'after-sign-in' });
      break;
    case 'wrong_password': {
      const refused = await signInAndDecide(page, first, {
        password: spec.wrong_password,
        action: 'approve',
        enter: true,
        label: 'refused',
      });
      if (summary.redirect) break;
      await signInAndDecide(page, refused, { password: spec.password, action: 'approve', enter: true, label: 'after-retry' });
      break;
    }
    case 'consent':
      await signInAndDecide(page, first, { password: spec.password, action: 'approve', enter: false, label: 'consent' });
      break;
    case 'deny':
      await signInAndDecide(page, first, { password: spec.password, action: 'deny', enter: false, label: 'consent' });
      break;
    default:
      throw new Error(`unknown scenario ${spec.scenario}`);
  }
  summary.ok = true;
}

try {
  await main();
} catch (e) {
  summary.failure = String(e?.stack ?? e);
}
clearTimeout(watchdog);
await closeAll();
process.stdout.write(JSON.stringify(summary) + '\n');
process.exit(summary.ok ? 0 : 1);
