// The world the end-to-end suite runs in: a fresh PostGIS database, the real `signalons` binary
// (migrated, Boston demo catalog loaded) serving a copy of pwa/dist on a free 127.0.0.1 port, and
// Debian's chromium with a phone viewport. Builds nothing: it expects target/debug/signalons
// (`cargo build -p signalons-server`) and pwa/dist (`npm run build`).
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

export const PWA = fileURLToPath(new URL('..', import.meta.url));
export const ROOT = resolve(PWA, '..');
const BIN = process.env.SIGNALONS_BIN ?? join(ROOT, 'target/debug/signalons');
const DIST = join(PWA, 'dist');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const PG = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: process.env.PGPORT ?? '5432',
  user: process.env.PGUSER ?? 'postgres',
};

function psql(sql, database = 'postgres') {
  return execFileSync('psql', ['-h', PG.host, '-p', PG.port, '-U', PG.user, '-d', database, '-qAtc', sql], {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

async function waitReady(base, child, logFile) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const response = await fetch(`${base}/readyz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the server did not become ready:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
}

/** Starts everything; `stop()` undoes it all (also after a failure half-way). */
export async function startWorld() {
  if (!existsSync(BIN)) {
    throw new Error(`${BIN} is missing: run \`cargo build -p signalons-server\` first`);
  }
  if (!existsSync(join(DIST, 'index.html'))) {
    throw new Error(`${DIST}/index.html is missing: run \`npm run build\` in pwa/ first`);
  }
  const cleanups = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        console.error('cleanup failed:', error);
      }
    }
  };
  try {
    const work = mkdtempSync(join(tmpdir(), 'signalons-e2e-'));
    cleanups.push(() => rmSync(work, { recursive: true, force: true }));

    // The built app as an operator deploys it.
    const dist = join(work, 'dist');
    cpSync(DIST, dist, { recursive: true });

    const database = `signalons_e2e_${process.pid}_${Date.now().toString(36)}`;
    psql(`CREATE DATABASE "${database}"`);
    cleanups.push(() => psql(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`));

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = {
      ...process.env,
      SIGNALONS_DATABASE_URL: `postgres://${PG.user}@${PG.host}:${PG.port}/${database}`,
      SIGNALONS_BIND: `127.0.0.1:${port}`,
      SIGNALONS_PWA_DIR: dist,
      SIGNALONS_HTTP_WORKERS: '2',
      SIGNALONS_JWT_SECRET: randomBytes(32).toString('hex'),
      SIGNALONS_PHOTO_DIR: join(work, 'photos'),
      // No basemap, by the server's configuration: nothing may leave this machine.
      SIGNALONS_MAP_TILES_URL: '',
      SIGNALONS_LOG: process.env.SIGNALONS_LOG ?? 'warn',
    };
    const run = (...args) => execFileSync(BIN, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    run('migrate');
    run('seed', 'demo', '--without-history');

    const logFile = join(work, 'server.log');
    const log = openSync(logFile, 'a');
    const server = spawn(BIN, ['serve'], { cwd: ROOT, env, stdio: ['ignore', log, log] });
    const exited = new Promise((r) => server.once('exit', r));
    cleanups.push(async () => {
      if (server.exitCode === null) {
        server.kill('SIGTERM');
        const timer = setTimeout(() => server.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    });
    await waitReady(base, server, logFile);

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    cleanups.push(() => browser.close());

    /** A staff account, made as an operator does: `signalons admin create`, password on stdin. */
    const createStaff = ({ email, password, role = 'crew', department = 'PWD_D10A' }) =>
      execFileSync(
        BIN,
        ['admin', 'create', '--email', email, '--role', role, '--department', department, '--jurisdiction', 'boston'],
        { cwd: ROOT, env, input: `${password}\n`, stdio: ['pipe', 'pipe', 'pipe'] },
      );

    /** SQL on the suite's database, for what only time would do (a due date passing). */
    const sql = (query) => psql(query, database);

    return { base, browser, dist, stop, createStaff, sql, serverLog: () => readFileSync(logFile, 'utf8') };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A phone: 360×640, touch, in Boston's Fenway with a 12 m GPS fix. */
export async function newPhone(browser, base, options = {}) {
  const context = await browser.newContext({
    viewport: { width: 360, height: 640 },
    deviceScaleFactor: 1,
    isMobile: true,
    hasTouch: true,
    locale: options.locale ?? 'en-US',
    geolocation: { latitude: 42.3467, longitude: -71.0972, accuracy: 12 },
    permissions: ['geolocation', 'background-sync'],
    serviceWorkers: 'allow',
  });
  // Every request must stay on this machine: any other is recorded, and the suite fails on it.
  const external = [];
  context.on('request', (request) => {
    const url = new URL(request.url());
    if (!['127.0.0.1', 'localhost'].includes(url.hostname) && url.protocol !== 'data:' && url.protocol !== 'blob:') {
      external.push(request.url());
    }
  });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  return { context, page, external, errors, base };
}

/** axe-core over the current screen: serious and critical WCAG 2.1 A/AA violations, as text. */
export async function seriousViolations(page) {
  const result = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.id} (${v.impact}): ${v.help}\n${v.nodes
          .slice(0, 5)
          .map((n) => `    ${n.target.join(' ')}: ${n.failureSummary?.split('\n').join(' ')}`)
          .join('\n')}`,
    );
}

const SCREENSHOTS = process.env.SCREENSHOTS_DIR
  ? resolve(PWA, process.env.SCREENSHOTS_DIR)
  : mkdtempSync(join(tmpdir(), 'signalons-shots-'));

/** A phone-sized screenshot; kept in pwa/screenshots only when SCREENSHOTS_DIR says so. */
export async function screenshot(page, name) {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), animations: 'disabled' });
}

// --- the API, called as a third party would ---

export async function api(base, path, init = {}) {
  const response = await fetch(`${base}${path}`, {
    ...init,
    headers: { 'Content-Type': 'application/json', ...(init.headers ?? {}) },
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

/** Reports whose description is exactly `description`, within ~2 km of a point. */
export async function reportsDescribed(base, description, lat, lon) {
  const d = 0.02;
  const bbox = [lon - d, lat - d, lon + d, lat + d].join(',');
  const { body } = await api(base, `/api/v1/reports?bbox=${bbox}&limit=200`);
  return body.items.filter((r) => r.description === description);
}

/** The device's outbox, read straight from IndexedDB. */
export function readOutbox(page) {
  return page.evaluate(
    () =>
      new Promise((resolveItems, reject) => {
        const open = indexedDB.open('signalons');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const request = db.transaction('outbox').objectStore('outbox').getAll();
          request.onsuccess = () => {
            const items = request.result.map((i) => ({ key: i.key, body: i.body, state: i.state }));
            db.close();
            resolveItems(items);
          };
          request.onerror = () => reject(request.error);
        };
      }),
  );
}
