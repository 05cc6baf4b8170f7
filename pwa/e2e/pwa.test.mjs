// The resident's journeys on a 360×640 phone, in Debian's chromium, against the real server and
// a real PostGIS database. Run with `npm run e2e` (after `npm run build` and a debug build of the
// server); `SCREENSHOTS_DIR=screenshots npm run e2e` refreshes pwa/screenshots/.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_BUDGET_KB, firstScreenScripts, gzipSize } from '../scripts/js-budget.mjs';
import {
  api,
  newPhone,
  readOutbox,
  reportsDescribed,
  screenshot,
  seriousViolations,
  startWorld,
} from './harness.mjs';

const FENWAY = { lat: 42.3467, lon: -71.0972 };
const run = Date.now().toString(36);
let world;
let phone;
/** The crew's phone, shared by the crew's tests. */
let crewPhone;
/** The Fenway pothole the crew resolves, seen later through the map's filters. */
let resolvedPothole;

async function expectAccessible(name, page = phone.page) {
  const violations = await seriousViolations(page);
  assert.deepEqual(violations, [], `${name}: serious or critical axe violations:\n${violations.join('\n')}`);
}

const heading = () => phone.page.getByRole('heading', { level: 1 });

/**
 * Sends the form. When problems already reported nearby are shown first, answers "a different
 * problem", which sends it.
 */
async function sendReport(page) {
  await page.getByRole('button', { name: 'Send the report' }).click();
  const mine = page.getByRole('heading', { level: 1, name: 'My reports' });
  const asked = page.getByRole('alert').filter({ hasText: 'Before sending: is it one of these?' });
  await mine.or(asked).first().waitFor();
  if (await asked.isVisible()) {
    await page.getByRole('button', { name: 'No, it’s a different problem' }).click();
    await mine.waitFor();
  }
}

/** A second phone, somewhere else: another resident, another device. */
async function residentAt(spot) {
  const resident = await newPhone(world.browser, world.base);
  await resident.context.setGeolocation({ latitude: spot.lat, longitude: spot.lon, accuracy: 8 });
  return resident;
}

/** The form opened at the resident's GPS position, a pothole chosen. */
async function openPotholeForm(page) {
  await page.goto(`${world.base}/report`);
  await page.getByText(/^Position: .* — from GPS/).waitFor();
  await page.getByLabel('What is the problem?').selectOption('pothole');
}

async function closeResident(resident) {
  try {
    assert.deepEqual(resident.errors, [], 'uncaught errors in the page');
    assert.deepEqual(resident.external, [], 'requests that left 127.0.0.1');
  } finally {
    await resident.context.close();
  }
}
const nav = () => phone.page.getByRole('navigation');

/** Closes the message at the bottom, so a screenshot shows the screen under it. */
async function closeToast(page) {
  const close = page.locator('.toast').getByRole('button', { name: 'Close' });
  if (await close.isVisible()) await close.click();
}

/** A PNG drawn in the page, as a camera's picture would arrive. */
async function photoPng(page, width, height) {
  const data = await page.evaluate(
    ([w, h]) => {
      const canvas = document.createElement('canvas');
      canvas.width = w;
      canvas.height = h;
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = '#8a8f96';
      ctx.fillRect(0, 0, w, h);
      ctx.fillStyle = '#2d3a4a';
      ctx.fillRect(w * 0.2, h * 0.3, w * 0.6, h * 0.4);
      return canvas.toDataURL('image/png').split(',')[1];
    },
    [width, height],
  );
  return Buffer.from(data, 'base64');
}

/** A few public reports around the resident so the map has something to show and cluster. */
async function seedReports(base) {
  const spots = [
    ['pothole', 0.0004, 0.0006],
    ['pothole', 0.00042, 0.00058],
    ['pothole', 0.00039, 0.00062],
    ['street_light_out', -0.0012, 0.0009],
    ['graffiti', 0.0015, -0.0011],
    ['sidewalk_repair', -0.0006, -0.0016],
    ['overflowing_litter_basket', 0.0021, 0.0018],
  ];
  const { body } = await api(base, '/api/v1/categories?jurisdiction=boston');
  const known = new Set(body.items.map((c) => c.code));
  for (const [category, dLat, dLon] of spots) {
    const code = known.has(category) ? category : body.items[0].code;
    const { status } = await api(base, '/api/v1/reports', {
      method: 'POST',
      body: JSON.stringify({
        category: code,
        latitude: FENWAY.lat + dLat,
        longitude: FENWAY.lon + dLon,
        description: `Seeded for the map (${run})`,
        source: 'api',
      }),
    });
    assert.equal(status, 201);
  }
}

describe('the resident PWA', { timeout: 240_000 }, () => {
  before(async () => {
    world = await startWorld();
    await seedReports(world.base);
    phone = await newPhone(world.browser, world.base);
  });

  after(async () => {
    if (crewPhone) await closeResident(crewPhone);
    if (phone) {
      assert.deepEqual(phone.errors, [], 'uncaught errors in the page');
      assert.deepEqual(phone.external, [], 'requests that left 127.0.0.1');
    }
    await world?.stop();
  });

  test('a phone’s first screen loads at most 150 KB of JavaScript, and the server’s basemap (none)', async () => {
    const fresh = await newPhone(world.browser, world.base);
    try {
      const { page } = fresh;
      const scripts = [];
      page.on('response', (response) => {
        if (response.request().resourceType() === 'script' && response.url().startsWith(world.base)) {
          scripts.push(response);
        }
      });
      await page.goto(world.base);
      await page.locator('#map-count').filter({ hasText: /\d+ reports in this area/ }).waitFor();
      await page.locator('.leaflet-marker-icon').first().waitFor();
      await page.waitForLoadState('networkidle');

      const loaded = await Promise.all(
        scripts.map(async (response) => ({
          file: new URL(response.url()).pathname.replace(/^\//, ''),
          gzip: gzipSize(await response.body()),
        })),
      );
      const counted = firstScreenScripts(
        readFileSync(join(world.dist, 'index.html'), 'utf8'),
        JSON.parse(readFileSync(join(world.dist, '.vite', 'manifest.json'), 'utf8')),
      );
      assert.deepEqual(
        loaded.map((l) => l.file).sort(),
        [...counted].sort(),
        'the build’s budget counts exactly the scripts the first screen loads',
      );
      const total = loaded.reduce((sum, l) => sum + l.gzip, 0);
      console.log(`first screen (/, 360×640): ${loaded.length} scripts, ${(total / 1024).toFixed(1)} KB gzipped`);
      assert.ok(total <= DEFAULT_BUDGET_KB * 1024, `${total} bytes of JavaScript on the first screen`);

      // The server is configured without a basemap (SIGNALONS_MAP_TILES_URL=''): the app says so
      // and asks for no tile.
      const config = await api(world.base, '/api/v1/config');
      assert.deepEqual(config.body, { map_tiles_url: null, map_tiles_attribution: null });
      await page.getByText('No background map is configured').waitFor();
      assert.equal(await page.locator('.map.no-basemap').count(), 1);
      assert.equal(await page.locator('.leaflet-tile').count(), 0);
    } finally {
      await closeResident(fresh);
    }
  });

  test('the map shows the reports around the resident, clustered, with a list', async () => {
    const { page } = phone;
    await page.goto(world.base);
    await heading().filter({ hasText: 'Reports around you' }).waitFor();
    const count = page.locator('#map-count');
    await count.filter({ hasText: /\d+ reports in this area/ }).waitFor();
    // Three reports a few metres apart make one cluster marker at this zoom.
    await page.locator('.leaflet-marker-icon.cluster').first().waitFor();
    assert.ok((await page.locator('.leaflet-marker-icon.pin').count()) >= 1);
    // They are one problem: one row of the list, which says it is known.
    const known = page.locator('.report-list li').filter({ hasText: 'Known problem: 3 reports · 2 supporters' });
    await known.waitFor();
    assert.equal(await page.locator('.report-list li').count(), 5);
    await screenshot(page, 'map');
    await expectAccessible('map');
    await page.locator('#list-title').evaluate((e) => e.scrollIntoView());
    await screenshot(page, 'map-list');
    await page.evaluate(() => window.scrollTo(0, 0));

    // Filters: one category leaves only its reports.
    await page.getByText('Filters').click();
    await page.getByLabel('Category').selectOption('graffiti');
    await count.filter({ hasText: '1 report in this area.' }).waitFor();
    await expectAccessible('map with filters');
    await page.getByLabel('Category').selectOption('');
    await count.filter({ hasText: /\d+ reports in this area/ }).waitFor();

    // A report's page says how known its problem is.
    await known.getByRole('link').click();
    await page.getByRole('heading', { level: 1, name: /Report \d+/ }).waitFor();
    const facts = page.locator('.facts');
    await facts.getByText('This problem').waitFor();
    await facts.getByText('3 reports · 2 supporters').waitFor();
    await screenshot(page, 'detail-known');
    await expectAccessible('report page of a known problem');
  });

  test('a report sent online exists on the server, GPS position and photo included', async () => {
    const { page } = phone;
    await nav().getByRole('link', { name: 'Report', exact: true }).click();
    await heading().filter({ hasText: 'Report a problem' }).waitFor();
    await page
      .getByText('Position: 42.34670, -71.09720 — from GPS, accurate to about 12 m')
      .waitFor();
    await screenshot(page, 'report');
    await page.getByLabel('What is the problem?').selectOption('pothole');

    // A 3000×1500 photo from the "camera" is kept at 2048×1024.
    const png = await page.evaluate(async () => {
      const canvas = document.createElement('canvas');
      canvas.width = 3000;
      canvas.height = 1500;
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = '#777';
      ctx.fillRect(0, 0, 3000, 1500);
      ctx.fillStyle = '#333';
      ctx.beginPath();
      ctx.ellipse(1500, 900, 700, 300, 0, 0, Math.PI * 2);
      ctx.fill();
      return canvas.toDataURL('image/png').split(',')[1];
    });
    await page.locator('input[type=file]').setInputFiles({
      name: 'pothole.png',
      mimeType: 'image/png',
      buffer: Buffer.from(png, 'base64'),
    });
    await page.getByText(/2048 × 1024 pixels/).waitFor();

    const description = `Deep hole in the right lane (${run})`;
    await page.getByLabel(/Describe it/).fill(description);
    await page.getByLabel(/Your email/).fill('resident@example.org');
    await screenshot(page, 'report-photo');
    await expectAccessible('report form');
    await sendReport(page);

    const toast = page.getByRole('status').filter({ hasText: /Report sent: number \d+/ });
    await toast.waitFor();
    const id = Number(/number (\d+)/.exec(await toast.textContent())[1]);

    const { status, body } = await api(world.base, `/api/v1/reports/${id}`);
    assert.equal(status, 200);
    assert.equal(body.description, description);
    assert.equal(body.category.code, 'pothole');
    assert.equal(body.source, 'pwa');
    assert.equal(body.location_accuracy_m, 12);
    assert.ok(Math.abs(body.latitude - FENWAY.lat) < 1e-6);
    assert.equal('contact_email' in body, false, 'the email is never public');
    assert.equal((await reportsDescribed(world.base, description, FENWAY.lat, FENWAY.lon)).length, 1);
    // The photo went with the report, once.
    const media = await api(world.base, `/api/v1/reports/${id}/media`);
    assert.equal(media.status, 200);
    assert.equal(media.body.length, 1);
    assert.equal(media.body[0].kind, 'report');
    assert.equal(media.body[0].width, 2048);
    await page.getByText('Photo sent with the report.').first().waitFor();
  });

  test('a report made offline waits on the device and is sent once, however often it is retried', async () => {
    const { page, context } = phone;
    await context.setOffline(true);
    await page.getByText('You are offline.').waitFor();
    await nav().getByRole('link', { name: 'Report', exact: true }).click();
    await heading().filter({ hasText: 'Report a problem' }).waitFor();

    // The way without the map: coordinates typed by hand.
    await page.getByLabel('Or type coordinates (latitude, longitude)').fill('42.3601, -71.0589');
    await page.getByRole('button', { name: 'Use these coordinates' }).click();
    await page.getByText('Position: 42.36010, -71.05890 — typed').waitFor();
    await page.getByLabel('What is the problem?').selectOption('street_light_out');
    const description = `Street light out on the corner (${run})`;
    await page.getByLabel(/Describe it/).fill(description);
    await sendReport(page);
    await page.getByRole('status').filter({ hasText: 'Report saved on this device.' }).waitFor();
    await page.getByRole('heading', { name: 'Waiting to be sent (1)' }).waitFor();
    await page.getByText('Waiting for the connection', { exact: true }).waitFor();
    await screenshot(page, 'pending');
    await expectAccessible('my reports, offline');

    // Background Sync is asked to send it even if the app is closed before the network returns.
    const tags = await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.getRegistration();
      return registration && 'sync' in registration ? registration.sync.getTags() : null;
    });
    if (tags !== null) assert.ok(tags.includes('signalons-outbox'), `sync tags: ${tags}`);

    const [item] = await readOutbox(page);
    assert.equal(item.body.description, description);
    assert.match(item.key, /^[0-9a-f-]{36}$/);

    // An attempt whose answer never came back: the server has the report, the phone does not know.
    const first = await api(world.base, '/api/v1/reports', {
      method: 'POST',
      headers: { 'Idempotency-Key': item.key },
      body: JSON.stringify(item.body),
    });
    assert.equal(first.status, 201);

    // Back online: the app sends its outbox by itself and gets the same report back.
    await context.setOffline(false);
    await page.getByRole('heading', { name: /Waiting to be sent/ }).waitFor({ state: 'detached' });
    await page.getByRole('link', { name: new RegExp(`Report ${first.body.id}\\b`) }).waitFor();
    assert.deepEqual(await readOutbox(page), []);

    // And once more, the same item retried: still the same report.
    const again = await api(world.base, '/api/v1/reports', {
      method: 'POST',
      headers: { 'Idempotency-Key': item.key },
      body: JSON.stringify(item.body),
    });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.id, first.body.id);
    const found = await reportsDescribed(world.base, description, 42.3601, -71.0589);
    assert.equal(found.length, 1, 'exactly one report on the server');
  });

  test('a report with a photo made offline arrives with its photo, exactly once', async () => {
    const { page, context } = phone;
    await nav().getByRole('link', { name: 'Report', exact: true }).click();
    await heading().filter({ hasText: 'Report a problem' }).waitFor();
    await page.getByText(/^Position: .* — from GPS/).waitFor();
    await context.setOffline(true);
    await page.getByText('You are offline.').waitFor();
    await page.getByLabel('Or type coordinates (latitude, longitude)').fill('42.3512, -71.0660');
    await page.getByRole('button', { name: 'Use these coordinates' }).click();
    await page.getByLabel('What is the problem?').selectOption('graffiti');
    await page.locator('input[type=file]').setInputFiles({
      name: 'tag.png',
      mimeType: 'image/png',
      buffer: await photoPng(page, 1200, 900),
    });
    await page.getByText(/1200 × 900 pixels/).waitFor();
    const description = `Tag on the bus shelter (${run})`;
    await page.getByLabel(/Describe it/).fill(description);
    await sendReport(page);
    await page.getByRole('status').filter({ hasText: 'Report saved on this device.' }).waitFor();
    await page.getByText('Photo kept on this device, sent with the report.').waitFor();
    const [item] = await readOutbox(page);
    assert.equal(item.body.description, description);

    await context.setOffline(false);
    await page.getByRole('heading', { name: /Waiting to be sent/ }).waitFor({ state: 'detached' });
    const found = await reportsDescribed(world.base, description, 42.3512, -71.066);
    assert.equal(found.length, 1, 'one report on the server');
    const media = await api(world.base, `/api/v1/reports/${found[0].id}/media`);
    assert.equal(media.body.length, 1, 'with its one photo');

    // The same multipart create retried with its key: the same report, no second photo.
    const form = new FormData();
    form.append('report', new Blob([JSON.stringify(item.body)], { type: 'application/json' }));
    form.append('photo', new Blob([await photoPng(page, 1200, 900)], { type: 'image/png' }), 'tag.png');
    const again = await fetch(`${world.base}/api/v1/reports`, {
      method: 'POST',
      headers: { 'Idempotency-Key': item.key },
      body: form,
    });
    assert.equal(again.status, 200);
    assert.equal((await again.json()).id, found[0].id);
    assert.equal((await api(world.base, `/api/v1/reports/${found[0].id}/media`)).body.length, 1);
    assert.equal((await reportsDescribed(world.base, description, 42.3512, -71.066)).length, 1);
  });

  test('a report refused when the service worker sent it is said on the open app', async () => {
    const { page, context } = phone;
    // This page offline, the browser and its service worker online: the report can only go by
    // Background Sync, as when the connection returns while the app is open in the background.
    await page.evaluate(() => navigator.serviceWorker.ready);
    const cdp = await context.newCDPSession(page);
    const network = (offline) =>
      cdp.send('Network.emulateNetworkConditions', { offline, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await cdp.send('Network.enable');
    await network(true);
    const posted = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/api/v1/reports')) posted.push(request);
    });
    try {
      await page.getByText('You are offline.').waitFor();
      await nav().getByRole('link', { name: 'Report', exact: true }).click();
      await page.getByLabel('Or type coordinates (latitude, longitude)').fill('42.3601 -71.0589');
      await page.getByRole('button', { name: 'Use these coordinates' }).click();
      await page.getByLabel('What is the problem?').selectOption('graffiti');
      await page.getByLabel(/Your email/).fill('not-an-email');
      await page.getByRole('button', { name: 'Send the report' }).click();
      await page.getByRole('heading', { level: 1, name: 'My reports' }).waitFor();

      // The service worker sent it; the app says what the server answered, in place of
      // "saved on this device".
      const toast = page.locator('.toast');
      await toast.filter({ hasText: 'The server refused the report' }).waitFor();
      assert.doesNotMatch(await toast.textContent(), /when the connection returns/);
      assert.ok(
        posted.every((request) => request.failure() !== null),
        'the page itself could not send it',
      );
    } finally {
      await network(false);
      await cdp.detach();
    }
    await page.getByText('Refused by the server').waitFor();
    await page.getByRole('heading', { name: 'Waiting to be sent (1)' }).waitFor();
    await page.locator('.problem').getByText('Some fields are not valid.').waitFor();
    await page.getByText('Email: does not look like an email address').waitFor();
    await screenshot(page, 'refused');
    await expectAccessible('my reports, refused item');
    // A refused item is not retried by itself; the resident discards it (two steps).
    await page.getByRole('button', { name: 'Discard' }).click();
    await page.getByRole('button', { name: 'Confirm: discard' }).click();
    await page.getByRole('heading', { name: /Waiting to be sent/ }).waitFor({ state: 'detached' });
  });

  test('my reports shows the public timeline of each report', async () => {
    const { page } = phone;
    await nav().getByRole('link', { name: 'My reports' }).click();
    await heading().filter({ hasText: 'My reports' }).waitFor();
    await page.getByRole('heading', { name: 'Sent from this device (3)' }).waitFor();
    const cards = page.locator('.card:not(.pending)');
    await cards.first().getByRole('heading', { name: 'Public history' }).waitFor();
    await cards.first().getByText('Report received', { exact: true }).waitFor();
    await cards.first().locator('.timeline time').first().waitFor();
    await cards.first().locator('.timeline .status').filter({ hasText: 'Submitted' }).waitFor();
    await closeToast(page);
    await screenshot(page, 'mine');
    await expectAccessible('my reports');

    // The report's own page, as anyone sees it.
    await cards.first().getByRole('link').first().click();
    await page.getByRole('heading', { level: 1, name: /Report \d+/ }).waitFor();
    await page.getByRole('heading', { name: 'Public history' }).waitFor();
    await page.getByText('Handled by').waitFor();
    // The newest is the offline one: its photo, as the server keeps it.
    await page.getByRole('heading', { name: 'Photos' }).waitFor();
    await page.getByRole('img', { name: 'Photo 1 of the problem, sent by a resident' }).waitFor();
    assert.ok(
      await page.locator('.photos img').evaluate((img) => img.complete && img.naturalWidth > 0),
      'the thumbnail loads',
    );
    await closeToast(page);
    await screenshot(page, 'detail');
    await expectAccessible('report page');
  });

  test('the form says who will handle the report, and refuses a place outside the city', async () => {
    const { page } = phone;
    await nav().getByRole('link', { name: 'Report', exact: true }).click();
    await heading().filter({ hasText: 'Report a problem' }).waitFor();
    await page.getByText('Position: 42.34670, -71.09720 — from GPS').waitFor();
    await page.getByLabel('What is the problem?').selectOption('pothole');
    const route = page.locator('.route[role=status]');
    await route.filter({ hasText: /^→ This goes to Public Works District [^,]+, Fenway\.$/ }).waitFor();
    assert.equal(await route.getAttribute('aria-live'), 'polite');

    // New York is not Boston: said at once, and the report is not sent.
    await page.getByLabel('Or type coordinates (latitude, longitude)').fill('40.7128, -74.0060');
    await page.getByRole('button', { name: 'Use these coordinates' }).click();
    await route.filter({ hasText: 'This place is outside the city served here' }).waitFor();
    await page.getByRole('button', { name: 'Send the report' }).click();
    await page.getByRole('alert').filter({ hasText: 'outside the city served here' }).waitFor();
    await heading().filter({ hasText: 'Report a problem' }).waitFor();
    assert.deepEqual(await readOutbox(page), []);
  });

  test('an address typed instead of the map places the report, by keyboard alone; offline it says it needs a connection', async () => {
    const { page, context } = phone;
    // A fresh form (the last test left coordinates typed in this one).
    await page.goto(`${world.base}/report`);
    await heading().filter({ hasText: 'Report a problem' }).waitFor();
    await page.getByText(/^Position: .* — from GPS/).waitFor();

    // What the city's gazetteer answers, asked as a third party would.
    const typed = '33 Beacon St';
    const suggested = await api(world.base, `/api/v1/geocode?q=${encodeURIComponent(typed)}&jurisdiction=boston&limit=5`);
    assert.equal(suggested.status, 200);
    const expected = suggested.body.items[0];
    assert.ok(expected, 'the demo gazetteer knows the address');

    const field = page.getByRole('combobox', { name: 'Address or landmark (optional)' });
    await field.focus();
    await page.keyboard.type(typed, { delay: 15 });
    const list = page.getByRole('listbox', { name: 'Address or landmark (optional)' });
    await list.waitFor();
    const n = suggested.body.items.length;
    const said = page.locator('#f-address-status');
    await said.filter({ hasText: n === 1 ? '1 address found' : `${n} addresses found` }).waitFor();
    assert.equal(await said.getAttribute('role'), 'status');
    assert.equal(await list.getByRole('option').count(), n);
    assert.equal(await field.getAttribute('aria-expanded'), 'true');
    await page.locator('.combo').evaluate((e) => e.scrollIntoView({ block: 'start' }));
    await page.evaluate(() => window.scrollBy(0, -64));
    await screenshot(page, 'report-address');
    await expectAccessible('report form, address suggestions');

    // The arrow keys move through the list (the field keeps the focus), Enter chooses.
    await page.keyboard.press('ArrowDown');
    const first = list.getByRole('option').first();
    assert.equal(await first.getAttribute('aria-selected'), 'true');
    assert.equal(await field.getAttribute('aria-activedescendant'), await first.getAttribute('id'));
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'f-address');
    await page.keyboard.press('Enter');
    const lat = expected.latitude.toFixed(5);
    const lon = expected.longitude.toFixed(5);
    await page.getByText(`Position: ${lat}, ${lon} — at the address chosen`).waitFor();
    await said.filter({ hasText: `Position set to ${expected.address}.` }).waitFor();
    assert.equal(await field.inputValue(), expected.address);
    assert.equal(await list.isVisible(), false);
    // The mini map shows it: its marker comes to the middle of the map.
    await page.waitForFunction(() => {
      const map = document.querySelector('.map.picker')?.getBoundingClientRect();
      const pin = document.querySelector('.map.picker .pin-new')?.getBoundingClientRect();
      if (!map || !pin) return false;
      const dx = pin.x + pin.width / 2 - (map.x + map.width / 2);
      const dy = pin.y + pin.height / 2 - (map.y + map.height / 2);
      return Math.hypot(dx, dy) < 12;
    });

    await page.getByLabel('What is the problem?').selectOption('damaged_sign');
    const description = `Sign bent over the pavement (${run})`;
    await page.getByLabel(/Describe it/).fill(description);
    await sendReport(page);
    const toast = page.getByRole('status').filter({ hasText: /Report sent: number \d+|Already reported/ });
    await toast.waitFor();
    const [made] = await reportsDescribed(world.base, description, expected.latitude, expected.longitude);
    assert.ok(made, 'the report is on the server');
    assert.equal(made.address, expected.address);
    assert.ok(Math.abs(made.latitude - expected.latitude) < 1e-6);
    assert.ok(Math.abs(made.longitude - expected.longitude) < 1e-6);

    // Offline: no search, said in words, with the other ways offered.
    await nav().getByRole('link', { name: 'Report', exact: true }).click();
    await heading().filter({ hasText: 'Report a problem' }).waitFor();
    await context.setOffline(true);
    try {
      await page.getByText('You are offline.').waitFor();
      await said.filter({ hasText: 'Address search needs a connection. Use your position or type coordinates' }).waitFor();
      const asked = [];
      const record = (request) => request.url().includes('/geocode') && asked.push(request.url());
      page.on('request', record);
      await field.fill('1 Beacon St');
      await page.waitForTimeout(600);
      page.off('request', record);
      assert.deepEqual(asked, []);
      assert.equal(await list.isVisible(), false);
      await page.getByRole('button', { name: 'Use my position' }).waitFor();
      await page.getByLabel('Or type coordinates (latitude, longitude)').waitFor();
      await expectAccessible('report form offline, address');
    } finally {
      await context.setOffline(false);
    }
    await field.fill('');
  });

  test('"me too" on a problem already reported: supported once, followed, no second report', async () => {
    // Somewhere else in Boston, a first resident reported it through the API.
    const spot = { lat: 42.3555, lon: -71.0637 };
    const description = `Pothole by the crossing (${run})`;
    const first = await api(world.base, '/api/v1/reports', {
      method: 'POST',
      body: JSON.stringify({
        category: 'pothole',
        latitude: spot.lat,
        longitude: spot.lon,
        description,
        source: 'api',
      }),
    });
    assert.equal(first.status, 201);
    const incidentId = first.body.incident_id;

    const resident = await residentAt(spot);
    try {
      const { page } = resident;
      await openPotholeForm(page);
      await page.getByRole('heading', { level: 2, name: 'Is it one of these?' }).waitFor();
      const card = page.locator('.candidate').filter({ hasText: description });
      await card.waitFor();
      const text = await card.textContent();
      assert.match(text, /\b\d+\sm away/);
      assert.match(text, /first reported .* · 1\sreport(?!s)/);
      assert.match(text, /Why: .*very close/);
      // Shown on the mini map as well, numbered as in the list.
      assert.ok((await page.locator('.leaflet-marker-icon.pin-candidate').count()) >= 1);
      await page.locator('.candidates').evaluate((e) => e.scrollIntoView());
      await screenshot(page, 'candidates');
      await expectAccessible('candidates', resident.page);

      await card.getByRole('button', { name: 'Me too' }).click();
      await page.getByRole('heading', { level: 1, name: 'My reports' }).waitFor();
      await page
        .getByRole('status')
        .filter({ hasText: 'Thank you: you support this problem (1 supporter)' })
        .waitFor();
      await page.getByRole('heading', { name: 'Followed (1)' }).waitFor();
      const followed = page.locator('.card.followed');
      await followed.getByText(`Problem ${incidentId}`).waitFor();
      await followed.getByText('1 report · 1 supporter').waitFor();
      await expectAccessible('followed', resident.page);
      // The server knows this phone follows it (a "me too" follows too).
      const device = await page.evaluate(() => localStorage.getItem('signalons.device'));
      const listed = await api(world.base, '/api/v1/me/follows', { headers: { 'Device-Id': device } });
      assert.deepEqual(listed.body.map((f) => f.incident.id), [incidentId]);

      const incident = await api(world.base, `/api/v1/incidents/${incidentId}`);
      assert.equal(incident.status, 200);
      assert.equal(incident.body.supporters_count, 1);
      assert.equal(incident.body.report_count, 1);
      const nearby = await api(
        world.base,
        `/api/v1/reports?lat=${spot.lat}&long=${spot.lon}&radius=300&category=pothole`,
      );
      assert.equal(nearby.body.items.length, 1, 'no second report');

      // Once per device: the same phone saying it again changes nothing.
      const again = await page.evaluate(
        async ([id]) => {
          const response = await fetch(`/api/v1/incidents/${id}/supports`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ device_id: localStorage.getItem('signalons.device') }),
          });
          return { status: response.status, body: await response.json() };
        },
        [incidentId],
      );
      assert.equal(again.status, 200);
      assert.equal(again.body.newly_supported, false);
      assert.equal(again.body.supporters_count, 1);
    } finally {
      await closeResident(resident);
    }

    // Another resident at the same spot: "a different problem" still sends a report.
    const other = await residentAt(spot);
    try {
      const { page } = other;
      await openPotholeForm(page);
      await page.locator('.candidate').filter({ hasText: description }).waitFor();
      const mine = `A second hole, across the street (${run})`;
      await page.getByLabel(/Describe it/).fill(mine);
      await page.getByRole('button', { name: 'Send the report' }).click();
      await page.getByRole('alert').filter({ hasText: 'Before sending: is it one of these?' }).waitFor();
      await page.getByRole('button', { name: 'No, it’s a different problem' }).click();
      await page.getByRole('heading', { level: 1, name: 'My reports' }).waitFor();
      await page
        .getByRole('status')
        .filter({ hasText: /Report sent: number \d+|Already reported — your report was added to it \(\d+ reports\)/ })
        .waitFor();
      assert.equal((await reportsDescribed(world.base, mine, spot.lat, spot.lon)).length, 1);
    } finally {
      await closeResident(other);
    }
  });

  test('a crew signs in, takes a resident’s report from the queue and resolves it in public', async () => {
    const crew = { email: `crew-${run}@example.org`, password: `Pothole-crew-${run}-pw` };
    world.createStaff(crew);

    // A resident reports a pothole in the Fenway (routed to Public Works District 10A).
    const spot = { lat: 42.3441, lon: -71.1003 };
    const resident = await residentAt(spot);
    const description = `Pothole at the bus stop (${run})`;
    let reportId;
    try {
      await openPotholeForm(resident.page);
      await resident.page.getByLabel(/Describe it/).fill(description);
      await sendReport(resident.page);
      const toast = resident.page
        .getByRole('status')
        .filter({ hasText: /Report sent: number \d+|Already reported/ });
      await toast.waitFor();
      [reportId] = (await reportsDescribed(world.base, description, spot.lat, spot.lon)).map((r) => r.id);
      assert.ok(reportId, 'the report is on the server');
    } finally {
      await closeResident(resident);
    }
    const report = (await api(world.base, `/api/v1/reports/${reportId}`)).body;
    assert.equal(report.department?.code, 'PWD_D10A', 'routed to the crew’s department');
    resolvedPothole = { id: reportId, description };
    const jobId = report.incident_id;

    const staff = await newPhone(world.browser, world.base);
    crewPhone = staff;
    const { page } = staff;
    await page.goto(world.base);
    await page.getByRole('link', { name: 'Staff sign-in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Staff sign-in' }).waitFor();
    await screenshot(page, 'staff-signin');
    await expectAccessible('staff sign-in', page);

    // A wrong password is said, in words.
    await page.getByLabel('Email').fill(crew.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Could not sign in: wrong email or password' }).waitFor();

    await page.getByLabel('Password').fill(crew.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Jobs' }).waitFor();
    await page.getByText(/Signed in as .*\(crew, PWD_D10A\)/).waitFor();
    await page.locator('#queue-count').filter({ hasText: /\d+ open jobs?\./ }).waitFor();
    const card = page.locator('.card.job').filter({ hasText: description });
    await card.waitFor();
    const text = await card.textContent();
    assert.match(text, /P\d (urgent|high|normal|low|lowest)/);
    assert.match(text, /Submitted/);
    assert.match(text, /\d+ m away/);
    assert.match(text, /Not taken/);
    await screenshot(page, 'queue');
    await expectAccessible('crew queue', page);

    // The same queue on a map, numbered as in the list.
    await page.getByRole('button', { name: 'Map' }).click();
    await page.locator('.leaflet-marker-icon.pin-job').first().waitFor();
    assert.ok((await page.locator('.leaflet-marker-icon.pin-job').count()) >= 2);
    // Jobs a few metres apart are drawn side by side: every number readable, every marker tappable.
    const boxes = await page
      .locator('.leaflet-marker-icon.pin-job')
      .evaluateAll((markers) => markers.map((m) => m.getBoundingClientRect().toJSON()));
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, b] = [boxes[i], boxes[j]];
        const overlap =
          Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 &&
          Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
        assert.ok(!overlap, `job markers ${i + 1} and ${j + 1} overlap`);
      }
    }
    await page.locator('.jobs-map').evaluate((e) => e.scrollIntoView({ block: 'center' }));
    await screenshot(page, 'queue-map');
    await expectAccessible('crew queue map', page);
    await page.getByRole('button', { name: 'List' }).click();

    await card.getByRole('link').click();
    await page.getByRole('heading', { level: 1, name: new RegExp(`Job ${jobId}`) }).waitFor();
    await page.getByRole('button', { name: 'Take this job' }).click();
    await page.getByRole('status').filter({ hasText: 'You took the job.' }).waitFor();
    await page.locator('.facts').getByText('Taken by you').waitFor();
    await closeToast(page);
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, 'job');

    // Resolved, with the public explanation, an internal note and a photo of the work.
    const explanation = `Filled the pothole this morning (${run}).`;
    await page.getByLabel('New status').selectOption('resolved');
    await page.getByLabel(/Public explanation/).fill(explanation);
    await page.getByLabel(/Internal note/).fill('Cold patch, 2 bags.');
    await page.locator('input[type=file]').setInputFiles({
      name: 'work.png',
      mimeType: 'image/png',
      buffer: await photoPng(page, 1600, 1200),
    });
    await page.getByRole('img', { name: 'Your photo of the work' }).waitFor();
    await closeToast(page);
    await page.getByRole('button', { name: 'Change the status' }).evaluate((e) => e.scrollIntoView({ block: 'end' }));
    await screenshot(page, 'job-status');
    await expectAccessible('job', page);
    await page.getByRole('button', { name: 'Change the status' }).click();
    await page.getByRole('status').filter({ hasText: 'Status changed to “Resolved”.' }).waitFor();
    await page.locator('.facts').getByText('Resolved').waitFor();

    const after = (await api(world.base, `/api/v1/reports/${reportId}`)).body;
    assert.equal(after.status, 'resolved');
    const media = (await api(world.base, `/api/v1/reports/${reportId}/media`)).body;
    assert.deepEqual(
      media.map((m) => m.kind),
      ['resolution'],
    );

    // The resident's report page shows the explanation in its public history, and the photo.
    const again = await residentAt(spot);
    try {
      await again.page.goto(`${world.base}/reports/${reportId}`);
      await again.page.getByRole('heading', { name: 'Public history' }).waitFor();
      const history = again.page.locator('.timeline');
      await history.getByText(explanation).waitFor();
      await history.getByText('Submitted → Resolved').waitFor();
      assert.equal(await again.page.getByText('Cold patch').count(), 0, 'the note stays internal');
      await again.page.getByRole('img', { name: 'Photo 1 of the work, by the crew' }).waitFor();
      await again.page.locator('.photos').evaluate((e) => e.scrollIntoView());
      await screenshot(again.page, 'resolved');
      await expectAccessible('resolved report', again.page);
    } finally {
      await closeResident(again);
    }
  });

  test('a crew’s changes made offline are sent once back online, in order', async () => {
    const { page, context } = crewPhone;
    const spot = { lat: 42.3452, lon: -71.1021 };
    const description = `Sunken manhole cover (${run})`;
    const made = await api(world.base, '/api/v1/reports', {
      method: 'POST',
      body: JSON.stringify({
        category: 'pothole',
        latitude: spot.lat,
        longitude: spot.lon,
        description,
        source: 'api',
      }),
    });
    assert.equal(made.status, 201);
    const jobId = made.body.incident_id;

    await page.getByRole('link', { name: 'Back to the jobs' }).click();
    await page.getByRole('button', { name: 'Refresh' }).click();
    const card = page.locator('.card.job').filter({ hasText: description });
    await card.waitFor();
    await card.getByRole('link').click();
    await page.getByRole('heading', { level: 1, name: new RegExp(`Job ${jobId}`) }).waitFor();

    await context.setOffline(true);
    await page.getByText('You are offline.').waitFor();
    await page.getByRole('button', { name: 'Take this job' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved on this device' }).waitFor();
    const explanation = `Crew on site, making it safe (${run}).`;
    await page.getByLabel('New status').selectOption('in_progress');
    await page.getByLabel(/Public explanation/).fill(explanation);
    await page.getByRole('button', { name: 'Change the status' }).click();
    await page.getByRole('heading', { name: 'Your changes waiting to be sent (2)' }).waitFor();
    await page.locator('.facts').getByText('In progress').waitFor();
    await page.locator('.facts').getByText('Taken by you').waitFor();
    await closeToast(page);
    await page.locator('#job-pending-title').evaluate((e) => e.scrollIntoView());
    await screenshot(page, 'job-offline');
    await expectAccessible('job offline', page);
    assert.equal((await api(world.base, `/api/v1/reports/${made.body.id}`)).body.status, 'submitted');

    await context.setOffline(false);
    await page.getByRole('heading', { name: /Your changes waiting to be sent/ }).waitFor({ state: 'detached' });
    const report = (await api(world.base, `/api/v1/reports/${made.body.id}`)).body;
    assert.equal(report.status, 'in_progress');
    const events = (await api(world.base, `/api/v1/reports/${made.body.id}/events`)).body.items;
    assert.equal(events.filter((e) => e.explanation === explanation).length, 1, 'sent once');
  });

  test('a change made on an outdated job is shown to the crew, not applied over the other', async () => {
    const { page } = crewPhone;
    const spot = { lat: 42.3436, lon: -71.0985 };
    const description = `Crumbling kerb by the crossing (${run})`;
    const made = await api(world.base, '/api/v1/reports', {
      method: 'POST',
      body: JSON.stringify({ category: 'pothole', latitude: spot.lat, longitude: spot.lon, description, source: 'api' }),
    });
    const jobId = made.body.incident_id;
    await page.goto(`${world.base}/staff/jobs/${jobId}`);
    await page.getByRole('heading', { level: 1, name: new RegExp(`Job ${jobId}`) }).waitFor();
    await page.getByRole('button', { name: 'Take this job' }).waitFor();

    // Meanwhile a colleague takes it.
    const colleague = { email: `colleague-${run}@example.org`, password: `Colleague-${run}-pw` };
    world.createStaff(colleague);
    const session = await api(world.base, '/api/v1/auth/login', {
      method: 'POST',
      body: JSON.stringify(colleague),
    });
    const auth = { Authorization: `Bearer ${session.body.access_token}` };
    const seen = await api(world.base, `/api/v1/jobs/${jobId}`, { headers: auth });
    const taken = await api(world.base, `/api/v1/jobs/${jobId}/take`, {
      method: 'POST',
      headers: { ...auth, 'If-Match': seen.headers.get('etag') },
    });
    assert.equal(taken.status, 200);

    await page.getByRole('button', { name: 'Take this job' }).click();
    await page.getByText('Not applied: the job changed since you saw it.').waitFor();
    await page.getByText(/Now: Submitted, taken by another crew member, version \d+\./).waitFor();
    await page.locator('.facts').getByText('Taken by another crew member').waitFor();
    await closeToast(page);
    await page.locator('#job-pending-title').evaluate((e) => e.scrollIntoView());
    await screenshot(page, 'conflict');
    await expectAccessible('conflict', page);
    const job = await api(world.base, `/api/v1/jobs/${jobId}`, { headers: auth });
    assert.equal(job.body.assignee_id, taken.body.assignee_id, 'the colleague still has it');

    // In French too.
    await page.getByRole('button', { name: 'Français' }).click();
    await page.getByRole('heading', { level: 1, name: new RegExp(`Intervention ${jobId}`) }).waitFor();
    await page.getByText('Non appliqué : l’intervention a changé depuis que vous l’avez vue.').waitFor();
    await page.getByRole('button', { name: 'Abandonner mon changement' }).waitFor();
    await expectAccessible('conflit', page);
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('button', { name: 'Discard my change' }).click();
    await page.getByRole('heading', { name: /Your changes waiting to be sent/ }).waitFor({ state: 'detached' });

    // Signing out ends the session here and on the server.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Staff sign-in' }).waitFor();
  });

  test('the map’s filters by category and status change the map and the list', async () => {
    const { page } = phone;
    await page.goto(world.base);
    await heading().filter({ hasText: 'Reports around you' }).waitFor();
    const count = page.locator('#map-count');
    await count.filter({ hasText: /\d+ reports in this area/ }).waitFor();
    // Wide enough for the whole Fenway: the seeded reports and the crew's jobs.
    await page.getByRole('button', { name: 'Zoom out' }).click();
    await count.filter({ hasText: /\d+ reports in this area/ }).waitFor();
    const resolvedRow = page
      .locator('.report-list li')
      .filter({ has: page.getByRole('link', { name: `Pothole · Report ${resolvedPothole.id}` }) });
    await resolvedRow.waitFor();
    const all = Number(/(\d+) reports/.exec(await count.textContent())[1]);

    await page.getByText('Filters').click();
    await page.getByLabel('Category').selectOption('pothole');
    await page.getByLabel('Status').selectOption('resolved');
    // The one pothole resolved by the crew: one marker, one row.
    await count.filter({ hasText: '1 report in this area.' }).waitFor();
    await page.getByText('Filters (2 active)').waitFor();
    await page.locator('.report-list li').first().filter({ hasText: 'Resolved' }).waitFor();
    assert.equal(await page.locator('.report-list li').count(), 1);
    await resolvedRow.waitFor();
    await page.locator('.leaflet-marker-icon').first().waitFor();
    assert.equal(await page.locator('.leaflet-marker-icon').count(), 1);
    await expectAccessible('map filtered by category and status');

    // Open potholes: the resolved one is gone, the others are there.
    await page.getByLabel('Status').selectOption('open');
    await count.filter({ hasText: /\d+ reports? in this area/ }).filter({ hasNotText: /^1 report in/ }).waitFor();
    await resolvedRow.waitFor({ state: 'detached' });
    const rows = page.locator('.report-list li');
    assert.ok((await rows.count()) >= 2);
    for (const text of await rows.allTextContents()) {
      assert.match(text, /^Pothole/);
      assert.doesNotMatch(text, /Resolved/);
    }
    const open = Number(/(\d+) reports?/.exec(await count.textContent())[1]);
    assert.ok(open < all, `${open} open potholes of ${all} reports`);

    // Nothing matches: no marker, no list.
    await page.getByLabel('Category').selectOption('graffiti');
    await page.getByLabel('Status').selectOption('resolved');
    await count.filter({ hasText: 'No report in this area.' }).waitFor();
    assert.equal(await page.locator('.report-list li').count(), 0);
    assert.equal(await page.locator('.leaflet-marker-icon').count(), 0);

    await page.getByLabel('Category').selectOption('');
    await page.getByLabel('Status').selectOption('');
    await count.filter({ hasText: `${all} reports in this area.` }).waitFor();
  });

  test('a resident who said “me too” on a report’s page follows it through the server and reads the crew’s explanation', async () => {
    const spot = { lat: 42.3426, lon: -71.1042 };
    const description = `Hole by the park gate (${run})`;
    const made = await api(world.base, '/api/v1/reports', {
      method: 'POST',
      body: JSON.stringify({ category: 'pothole', latitude: spot.lat, longitude: spot.lon, description, source: 'api' }),
    });
    assert.equal(made.status, 201);
    assert.equal(made.body.department?.code, 'PWD_D10A');
    const reportId = made.body.id;
    const incidentId = made.body.incident_id;
    assert.ok(made.body.due_at, 'potholes have a service level');

    const crew = { email: `follow-crew-${run}@example.org`, password: `Follow-crew-${run}-pw` };
    world.createStaff(crew);
    const session = await api(world.base, '/api/v1/auth/login', { method: 'POST', body: JSON.stringify(crew) });
    const auth = { Authorization: `Bearer ${session.body.access_token}` };
    /** A crew's status change, as the crew app makes it. */
    const changeStatus = async (status, explanation, note) => {
      const job = await api(world.base, `/api/v1/jobs/${incidentId}`, { headers: auth });
      const changed = await api(world.base, `/api/v1/jobs/${incidentId}/status`, {
        method: 'POST',
        headers: { ...auth, 'If-Match': job.headers.get('etag') },
        body: JSON.stringify({ status, explanation, internal_note: note }),
      });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
    };

    const resident = await residentAt(spot);
    const { page, context } = resident;
    const device = () => page.evaluate(() => localStorage.getItem('signalons.device'));
    const followedOnServer = async () =>
      (await api(world.base, '/api/v1/me/follows', { headers: { 'Device-Id': await device() } })).body.map(
        (f) => f.incident.id,
      );
    try {
      // The report's page: when it is due, and "me too" there (not only before reporting).
      await page.goto(`${world.base}/reports/${reportId}`);
      await page.getByRole('heading', { level: 1, name: new RegExp(`Report ${reportId}`) }).waitFor();
      const facts = page.locator('.facts');
      await facts.getByText('Deadline', { exact: true }).waitFor();
      await facts.getByText(/^Due by .+\d/).waitFor();
      const actions = page.locator('.act');
      await actions.getByRole('heading', { name: 'Affected too?' }).waitFor();
      await actions.getByRole('button', { name: 'Me too' }).click();
      await page.getByRole('status').filter({ hasText: 'Thank you: you support this problem (1 supporter)' }).waitFor();
      await actions.getByText('You support this problem.').waitFor();
      await actions.getByText('You follow this problem: its news is in My reports.').waitFor();
      await actions.getByRole('button', { name: 'Stop following' }).waitFor();
      await facts.getByText('1 report · 1 supporter').waitFor();
      assert.deepEqual(await followedOnServer(), [incidentId]);
      assert.equal((await api(world.base, `/api/v1/incidents/${incidentId}`)).body.report_count, 1, 'supported, not reported');
      await closeToast(page);
      await actions.evaluate((e) => e.scrollIntoView({ block: 'center' }));
      await screenshot(page, 'detail-metoo');
      await expectAccessible('report page after me too', page);

      // A crew explains a change; its note stays inside. Time passes: the due date too.
      const explanation = `Booked with the asphalt crew for Monday (${run}).`;
      await changeStatus('scheduled', explanation, 'Gate code 4411, park by the shed.');
      world.sql(`UPDATE incidents SET due_at = now() - interval '1 day' WHERE id = ${incidentId}`);

      // My reports: the followed problem with its news, from the server.
      await page.getByRole('navigation').getByRole('link', { name: 'My reports' }).click();
      await page.getByRole('heading', { name: 'Followed (1)' }).waitFor();
      const card = page.locator('.card.followed');
      await card.getByText(explanation).waitFor();
      await card.getByText('Submitted → Scheduled').waitFor();
      await card.getByText(/⚠ Overdue: it was due by/).waitFor();
      await card.getByRole('heading', { name: 'Public history, newest first' }).waitFor();
      assert.equal(await page.getByText('Gate code').count(), 0, 'the note stays internal');
      await card.scrollIntoViewIfNeeded();
      await screenshot(page, 'followed');
      await expectAccessible('followed, with its news', page);

      // The problem's own page: its whole history, newest first.
      await card.getByRole('link', { name: new RegExp(`Problem ${incidentId}`) }).click();
      await page.getByRole('heading', { level: 1, name: new RegExp(`Pothole · Problem ${incidentId}`) }).waitFor();
      const history = page.locator('.timeline');
      await history.getByText(explanation).waitFor();
      const kinds = await history.locator('li strong').allTextContents();
      assert.match(kinds[0], /Status changed/, `newest first: ${kinds}`);
      assert.match(kinds[kinds.length - 1], /Report received/);
      await page.locator('.facts').getByText(/⚠ Overdue: it was due by/).waitFor();
      assert.equal(await page.getByText('Gate code').count(), 0);
      // The phone remembers its "me too": not offered twice.
      await page.locator('.act').getByText('You support this problem.').waitFor();
      assert.equal(await page.locator('.act').getByRole('button', { name: 'Me too' }).count(), 0);
      await page.locator('.timeline').evaluate((e) => e.scrollIntoView({ block: 'start' }));
      await page.evaluate(() => window.scrollBy(0, -180));
      await screenshot(page, 'incident');
      await expectAccessible('a problem’s page', page);
      // In French too.
      await page.getByRole('button', { name: 'Français' }).click();
      await page.getByRole('heading', { level: 1, name: new RegExp(`Nid-de-poule · Problème ${incidentId}`) }).waitFor();
      await page.getByRole('heading', { name: 'Historique public, le plus récent d’abord' }).waitFor();
      await page.locator('.facts').getByText(/⚠ En retard : c’était à régler d’ici le/).waitFor();
      await page.locator('.act').getByText('Vous suivez ce problème : ses nouvelles sont dans Mes signalements.').waitFor();
      await page.locator('.timeline').getByText('Reçu → Planifié').waitFor();
      await page.locator('.timeline').evaluate((e) => e.scrollIntoView({ block: 'start' }));
      await page.evaluate(() => window.scrollBy(0, -120));
      await screenshot(page, 'incident-fr');
      await expectAccessible('la page d’un problème', page);
      await page.getByRole('button', { name: 'English' }).click();

      // Offline, "stop following" waits on the phone and goes once the connection returns.
      await context.setOffline(true);
      await page.getByText('You are offline.').waitFor();
      await page.locator('.act').getByRole('button', { name: 'Stop following' }).click();
      await page.getByRole('status').filter({ hasText: 'Saved on this device.' }).waitFor();
      await page.locator('.act').getByRole('button', { name: 'Follow', exact: true }).waitFor();
      await page.getByRole('navigation').getByRole('link', { name: /My reports/ }).click();
      await page.getByRole('heading', { name: 'Waiting to be sent (1)' }).waitFor();
      await page.getByRole('heading', { name: `Stop following problem ${incidentId}` }).waitFor();
      await page.getByRole('heading', { name: 'Followed (0)' }).waitFor();
      assert.deepEqual(await followedOnServer(), [incidentId], 'not sent yet');
      await context.setOffline(false);
      await page.getByRole('heading', { name: /Waiting to be sent/ }).waitFor({ state: 'detached' });
      assert.deepEqual(await followedOnServer(), []);

      // Followed again from "is it one of these?", without saying "me too" twice.
      await openPotholeForm(page);
      const candidate = page.locator('.candidate').filter({ hasText: description });
      await candidate.getByRole('button', { name: 'Follow it' }).click();
      await candidate.getByText('You follow this problem: its news is in My reports.').waitFor();
      await candidate.getByRole('button', { name: 'Stop following' }).waitFor();
      await page.getByRole('status').filter({ hasText: `You follow problem ${incidentId}: its news is in My reports.` }).waitFor();
      assert.deepEqual(await followedOnServer(), [incidentId]);
      await expectAccessible('candidates, one followed', page);
    } finally {
      await closeResident(resident);
    }

    // Another resident opens the page; meanwhile the crew closes the problem: their "me too"
    // is refused in words, with the way on, and nothing waits on their phone.
    const late = await residentAt(spot);
    try {
      const { page } = late;
      await page.goto(`${world.base}/reports/${reportId}`);
      const meToo = page.locator('.act').getByRole('button', { name: 'Me too' });
      await meToo.waitFor();
      await changeStatus('resolved', `Filled and sealed (${run}).`, 'Two bags.');
      await meToo.click();
      const refusal = page.getByRole('alert').filter({ hasText: 'This problem is already closed: if it is back, report it again.' });
      await refusal.waitFor();
      await refusal.getByRole('link', { name: 'Report it again' }).waitFor();
      // The page now shows it as it is.
      await page.locator('.facts').getByText('Resolved').waitFor();
      assert.equal(await page.locator('.act').getByRole('button', { name: 'Me too' }).count(), 0);
      assert.deepEqual(await readOutbox(page), []);
      assert.equal((await api(world.base, `/api/v1/incidents/${incidentId}`)).body.supporters_count, 1);
      await closeToast(page);
      await page.locator('.act').evaluate((e) => e.scrollIntoView({ block: 'center' }));
      await screenshot(page, 'metoo-closed');
      await expectAccessible('me too refused, closed', page);
    } finally {
      await closeResident(late);
    }
  });

  test('French and English, switched and remembered', async () => {
    const { page } = phone;
    await nav().getByRole('link', { name: 'My reports' }).click();
    await page.getByRole('button', { name: 'Français' }).click();
    await heading().filter({ hasText: 'Mes signalements' }).waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'fr');
    await page.reload();
    await heading().filter({ hasText: 'Mes signalements' }).waitFor();
    await nav().getByRole('link', { name: 'Carte' }).waitFor();
    await page.getByText('Historique public').first().waitFor();
    await expectAccessible('mes signalements');
    await nav().getByRole('link', { name: 'Signaler' }).click();
    await heading().filter({ hasText: 'Signaler un problème' }).waitFor();
    await page.getByLabel('Quel est le problème ?').selectOption('pothole');
    assert.equal(
      await page.locator('#f-category option:checked').textContent(),
      'Nid-de-poule',
      'category names in French',
    );
    await page.getByRole('combobox', { name: 'Adresse ou repère (facultatif)' }).fill('33 Beacon St');
    await page.locator('#f-address-status').filter({ hasText: /adresses? trouvées? : flèches et Entrée/ }).waitFor();
    await page.getByRole('listbox', { name: 'Adresse ou repère (facultatif)' }).waitFor();
    await expectAccessible('signaler, adresses suggérées');
    await page.getByRole('combobox', { name: 'Adresse ou repère (facultatif)' }).fill('');
    await screenshot(page, 'report-fr');
    await expectAccessible('signaler');
    await page.getByRole('button', { name: 'English' }).click();
    await heading().filter({ hasText: 'Report a problem' }).waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
  });

  test('the app opens offline once installed', async () => {
    const { page, context } = phone;
    await page.evaluate(() => navigator.serviceWorker.ready);
    await page.goto(`${world.base}/mine`);
    assert.ok(await page.evaluate(() => navigator.serviceWorker.controller !== null));
    await context.setOffline(true);
    await page.goto(`${world.base}/report`);
    await heading().filter({ hasText: 'Report a problem' }).waitFor();
    await page.getByText('You are offline.').waitFor();
    // The catalog was kept: the category list works without the network.
    assert.ok((await page.locator('#f-category option').count()) > 30);
    await context.setOffline(false);
  });

  test('a new device follows its own language', async () => {
    const french = await newPhone(world.browser, world.base, { locale: 'fr-FR' });
    try {
      await french.page.goto(world.base);
      await french.page
        .getByRole('heading', { level: 1 })
        .filter({ hasText: 'Signalements autour de vous' })
        .waitFor();
      await french.page.locator('#map-count').filter({ hasText: /signalements dans cette zone/ }).waitFor();
      await screenshot(french.page, 'map-fr');
      assert.deepEqual(french.errors, []);
      assert.deepEqual(french.external, []);
    } finally {
      await french.context.close();
    }
  });
});
