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

const summary = {
  ok: false,
  scenario: spec.scenario,
  width: spec.width,
  pages: [],
  redirect: null,
  blocked: [],
  // Every element the keyboard focused, and those of them drawn without a
  // visible focus indicator (no outline, no box-shadow).
  focus_stops: [],
  focus_unmarked: [],
  // What the browser refused under the pages' Content-Security-Policy (a
  // style sheet whose hash the policy does not name, a logo from elsewhere).
  csp_violations: [],
};
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
    const describe = (e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.className ? `.${String(e.className).split(' ').join('.')}` : ''}`;
    // WCAG 2.2 contrast of every visible text against its background (solid
    // colours only: the pages use no background images).
    const lowContrast = () => {
      const parse = (c) => {
        const m = /rgba?\(([^)]+)\)/.exec(c);
        if (!m) return null;
        const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
        return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
      };
      const lum = ({ r, g, b }) => {
        const f = (c) => ((c /= 255) <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
      };
      const background = (el) => {
        for (let e = el; e; e = e.parentElement) {
          const c = parse(getComputedStyle(e).backgroundColor);
          if (c && c.a > 0) return c;
        }
        return { r: 255, g: 255, b: 255, a: 1 };
      };
      const out = [];
      for (const el of document.querySelectorAll('body *')) {
        if (![...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim())) continue;
        if (!visible(el)) continue;
        const s = getComputedStyle(el);
        const fg = parse(s.color);
        if (!fg) continue;
        const [hi, lo] = [lum(fg), lum(background(el))].sort((x, y) => y - x);
        const ratio = (hi + 0.05) / (lo + 0.05);
        const size = parseFloat(s.fontSize);
        const large = size >= 24 || (parseInt(s.fontWeight, 10) >= 700 && size >= 18.66);
        if (ratio < (large ? 3 : 4.5)) out.push(`${describe(el)} ${ratio.toFixed(2)}:1`);
      }
      return out;
    };
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
      error_detail: text('#error-detail'),
      error_focused: !!(error && active && (active === error || error.contains(active))),
      focused: active && active !== document.body ? active.id || active.tagName.toLowerCase() : null,
      scopes: text('#scopes'),
      subject: text('#subject'),
      upstream: text('#upstream'),
      // Form controls a screen reader could not name.
      unlabelled: [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
        .map((e) => e.id || e.name || e.tagName),
      // Elements wider than the page (what makes it scroll sideways).
      too_wide: [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
        .slice(0, 5)
        .map(describe),
      low_contrast: lowContrast(),
      heading: text('h1'),
      support_link: text('#support-link'),
      continue_link: text('#continue'),
      images: [...document.images].map((i) => ({ src: i.currentSrc || i.src, loaded: i.complete && i.naturalWidth > 0 })),
      username_field: visible(document.querySelector('#username')),
      password_field: visible(document.querySelector('#password')),
      username_value: document.querySelector('#username')?.value ?? null,
      invalid_fields: [...document.querySelectorAll('[aria-invalid="true"]')].map((e) => e.id || e.name || e.tagName),
      approve_button: button('approve'),
      deny_button: button('deny'),
      body_text: document.body?.innerText ?? '',
    };
  });
  const focus = await focusState(page);
  const entry = { label, status, screenshot: shot, ...seen, focus_marked: focus.marked };
  summary.pages.push(entry);
  return entry;
}

// The focused element (a short description) and whether it is drawn with
// a visible focus indicator.
async function focusState(page) {
  return page.evaluate(() => {
    const a = document.activeElement;
    if (!a || a === document.body) return { name: 'body', marked: true };
    const name = a.id ? `#${a.id}` : `${a.tagName.toLowerCase()}${a.name ? `[name=${a.name}]` : ''}${a.value ? `[value=${a.value}]` : ''}`;
    const s = getComputedStyle(a);
    const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
    const shadow = s.boxShadow && s.boxShadow !== 'none';
    return { name, marked: outline || !!shadow };
  });
}

// Presses Tab until the focused element matches `selector`, noting every
// element focused on the way and whether it showed it.
async function tabTo(page, selector) {
  const trail = [];
  for (let i = 0; i < MAX_TABS; i++) {
    if (await page.evaluate((sel) => document.activeElement?.matches(sel) ?? false, selector)) return;
    await page.keyboard.press('Tab');
    const f = await focusState(page);
    trail.push(f.name);
    summary.focus_stops.push(f.name);
    if (!f.marked) summary.focus_unmarked.push(f.name);
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
  // The page as the person leaves it: the button they chose, focused.
  await observe(page, `focus-${action}`, null);
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
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) summary.csp_violations.push(m.text());
  });
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
    case 'refused_continue': {
      // Approve, get a page refusing the sign-in, and follow its link back
      // to the application.
      const refused = await signInAndDecide(page, first, { password: spec.password, action: 'approve', enter: false, label: 'consent' });
      if (summary.redirect || !refused.continue_link) break;
      await tabTo(page, '#continue');
      await observe(page, 'focus-continue', null);
      await enterAndWait(page);
      break;
    }
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
