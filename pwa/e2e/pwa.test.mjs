// The resident's journeys on a 360×640 phone, in Debian's chromium, against the real server and
// a real PostGIS database. Run with `npm run e2e` (after `npm run build` and a debug build of the
// server); `SCREENSHOTS_DIR=screenshots npm run e2e` refreshes pwa/screenshots/.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
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
    if (phone) {
      assert.deepEqual(phone.errors, [], 'uncaught errors in the page');
      assert.deepEqual(phone.external, [], 'requests that left 127.0.0.1');
    }
    await world?.stop();
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
    assert.ok((await page.locator('.report-list li').count()) >= 7);
    await screenshot(page, 'map');
    await expectAccessible('map');

    // Filters: one category leaves only its reports.
    await page.getByText('Filters').click();
    await page.getByLabel('Category').selectOption('graffiti');
    await count.filter({ hasText: '1 report in this area.' }).waitFor();
    await expectAccessible('map with filters');
    await page.getByLabel('Category').selectOption('');
    await count.filter({ hasText: /\d+ reports in this area/ }).waitFor();
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
    await page.getByText('Photo kept on this device, not sent yet.').first().waitFor();
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
    await page.getByRole('heading', { name: 'Waiting to be sent (0)' }).waitFor();
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

  test('a report the server refuses shows why on the pending item', async () => {
    const { page, context } = phone;
    await context.setOffline(true);
    await nav().getByRole('link', { name: 'Report', exact: true }).click();
    await page.getByLabel('Or type coordinates (latitude, longitude)').fill('42.3601 -71.0589');
    await page.getByRole('button', { name: 'Use these coordinates' }).click();
    await page.getByLabel('What is the problem?').selectOption('graffiti');
    await page.getByLabel(/Your email/).fill('not-an-email');
    await page.getByRole('button', { name: 'Send the report' }).click();
    await page.getByRole('heading', { name: 'Waiting to be sent (1)' }).waitFor();

    await context.setOffline(false);
    await page.getByText('Refused by the server').waitFor();
    await page.locator('.problem').getByText('Some fields are not valid.').waitFor();
    await page.getByText('Email: does not look like an email address').waitFor();
    await screenshot(page, 'refused');
    await expectAccessible('my reports, refused item');
    // A refused item is not retried by itself; the resident discards it (two steps).
    await page.getByRole('button', { name: 'Discard' }).click();
    await page.getByRole('button', { name: 'Confirm: discard' }).click();
    await page.getByRole('heading', { name: 'Waiting to be sent (0)' }).waitFor();
  });

  test('my reports shows the public timeline of each report', async () => {
    const { page } = phone;
    await nav().getByRole('link', { name: 'My reports' }).click();
    await heading().filter({ hasText: 'My reports' }).waitFor();
    await page.getByRole('heading', { name: 'Sent from this device (2)' }).waitFor();
    const cards = page.locator('.card:not(.pending)');
    await cards.first().getByRole('heading', { name: 'Public history' }).waitFor();
    await cards.first().getByText('Report received', { exact: true }).waitFor();
    await cards.first().locator('.timeline time').first().waitFor();
    await cards.first().locator('.timeline .status').filter({ hasText: 'Submitted' }).waitFor();
    await screenshot(page, 'mine');
    await expectAccessible('my reports');

    // The report's own page, as anyone sees it.
    await cards.first().getByRole('link').first().click();
    await page.getByRole('heading', { level: 1, name: /Report \d+/ }).waitFor();
    await page.getByRole('heading', { name: 'Public history' }).waitFor();
    await page.getByText('Handled by').waitFor();
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
      assert.match(text, /\b\d+ m away/);
      assert.match(text, /first reported .* · 1 report(?!s)/);
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
      await page.getByRole('button', { name: 'Close' }).click();
      await followed.scrollIntoViewIfNeeded();
      await screenshot(page, 'followed');
      await expectAccessible('followed', resident.page);

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
