import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CreatedReport, CreateOutcome, CreateReport, SupportOutcome } from '../src/api';
import {
  classify,
  closeDb,
  DB_NAME,
  discard,
  enqueue,
  enqueueSupport,
  flushOutbox,
  getOutboxItem,
  listFollowed,
  listMine,
  listOutbox,
  onOutboxChange,
  onResultsElsewhere,
  sendOne,
  shareResults,
  type SendResult,
  type Sender,
  type SupportSender,
} from '../src/outbox';

const body: CreateReport = {
  category: 'pothole',
  latitude: 42.3467,
  longitude: -71.0972,
  description: 'Deep hole',
  source: 'pwa',
};

let nextId = 100;
function report(): CreatedReport {
  const now = new Date().toISOString();
  return {
    id: nextId++,
    jurisdiction: 'boston',
    category: { code: 'pothole', name: 'Pothole' },
    incident_id: 1,
    incident: { report_count: 1, supporters_count: 0 },
    latitude: 42.3467,
    longitude: -71.0972,
    description: 'Deep hole',
    status: 'submitted',
    priority: 3,
    source: 'pwa',
    created_at: now,
    updated_at: now,
    overdue: false,
    linked_to_existing_incident: false,
    duplicate_candidates: [],
    photos: [],
    location_from_photo: false,
  };
}

/** A fake server that remembers keys, as the real one does: same key, same report. */
function fakeServer() {
  const byKey = new Map<string, CreatedReport>();
  const calls: { key: string; body: CreateReport }[] = [];
  const send: Sender = async (key, b) => {
    calls.push({ key, body: b });
    const known = byKey.get(key);
    if (known) return { ok: true, status: 200, report: known, replayed: true };
    const created = report();
    byKey.set(key, created);
    return { ok: true, status: 201, report: created, replayed: false };
  };
  return { send, calls, byKey };
}

const problem = (status: number, code: string) => ({
  type: `urn:signalons:problem:${code}`,
  title: 'x',
  status,
  detail: `${code} detail`,
  code,
  errors: [{ field: 'description', code: 'too_long', detail: 'too long' }],
});

const answering =
  (status: number): Sender =>
  async () =>
    ({ ok: false, status, problem: problem(status, 'validation_failed') }) as CreateOutcome;

const offline: Sender = async () => {
  throw new TypeError('Failed to fetch');
};

beforeEach(async () => {
  await closeDb();
  await new Promise<void>((resolve, reject) => {
    const request = indexedDB.deleteDatabase(DB_NAME);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
});

afterEach(async () => {
  await closeDb();
});

describe('classify', () => {
  it.each([
    [200, 'sent'],
    [201, 'sent'],
    [null, 'retry'],
    [408, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [502, 'retry'],
    [503, 'retry'],
    [400, 'rejected'],
    [404, 'rejected'],
    [413, 'rejected'],
    [415, 'rejected'],
    [422, 'rejected'],
  ] as const)('%s → %s', (status, verdict) => {
    expect(classify(status)).toBe(verdict);
  });
});

describe('outbox', () => {
  it('keeps a report with a fresh key until it is sent, then lists it as mine', async () => {
    const item = await enqueue(body);
    expect(item.key).toMatch(/^[0-9a-f-]{36}$/);
    expect(await listOutbox()).toHaveLength(1);

    const server = fakeServer();
    const results = await flushOutbox(server.send);
    expect(results).toMatchObject([{ key: item.key, verdict: 'sent' }]);
    expect(server.calls).toEqual([{ key: item.key, body }]);
    expect(await listOutbox()).toHaveLength(0);
    const mine = await listMine();
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ id: results[0].report!.id, key: item.key });
  });

  it('keeps the item and its key when the network fails, and resends the same key', async () => {
    const item = await enqueue(body);
    const [failed] = await flushOutbox(offline);
    expect(failed.verdict).toBe('retry');
    const kept = await getOutboxItem(item.key);
    expect(kept).toMatchObject({ state: 'pending', attempts: 1 });
    expect(kept!.problem!.code).toBe('network');

    const server = fakeServer();
    await flushOutbox(server.send);
    expect(server.calls.map((c) => c.key)).toEqual([item.key]);
    expect(await listOutbox()).toHaveLength(0);
  });

  it('a report sent twice with its key is still one report', async () => {
    const item = await enqueue(body);
    const server = fakeServer();
    // The answer to the first attempt is lost: the server created the report, we never knew.
    await server.send(item.key, item.body);
    const result = await sendOne(item.key, server.send);
    expect(result.verdict).toBe('sent');
    expect(server.byKey.size).toBe(1);
    expect((await listMine())[0].id).toBe(server.byKey.get(item.key)!.id);
  });

  it.each([408, 429, 500, 503])('keeps it pending on %s', async (status) => {
    const item = await enqueue(body);
    const [result] = await flushOutbox(answering(status));
    expect(result.verdict).toBe('retry');
    expect((await getOutboxItem(item.key))!.state).toBe('pending');
  });

  it('marks it rejected on other 4xx, with the field errors, and stops retrying it', async () => {
    const item = await enqueue(body);
    const [result] = await flushOutbox(answering(422));
    expect(result.verdict).toBe('rejected');
    const kept = await getOutboxItem(item.key);
    expect(kept!.state).toBe('rejected');
    expect(kept!.problem!.errors![0]).toMatchObject({ field: 'description', code: 'too_long' });

    const server = fakeServer();
    expect(await flushOutbox(server.send)).toEqual([]);
    expect(server.calls).toHaveLength(0);
    // The resident may still ask to send it.
    expect((await sendOne(item.key, server.send)).verdict).toBe('sent');
  });

  it('stops at the first network failure and sends oldest first', async () => {
    const first = await enqueue(body, null, new Date('2026-01-01T00:00:00Z'));
    await enqueue({ ...body, description: 'second' }, null, new Date('2026-01-02T00:00:00Z'));
    let calls = 0;
    const results = await flushOutbox(async (key, b) => {
      calls++;
      return offline(key, b);
    });
    expect(calls).toBe(1);
    expect(results.map((r) => r.key)).toEqual([first.key]);
  });

  it('never sends an item twice when two flushes race', async () => {
    await enqueue(body);
    await enqueue({ ...body, description: 'other' });
    const server = fakeServer();
    const slow: Sender = async (key, b) => {
      await new Promise((r) => setTimeout(r, 20));
      return server.send(key, b);
    };
    await Promise.all([flushOutbox(slow), flushOutbox(slow), sendOne((await listOutbox())[0].key, slow)]);
    expect(server.calls).toHaveLength(2);
    expect(await listMine()).toHaveLength(2);
  });

  it('sends the photo with the report, and keeps it with the report once sent', async () => {
    const photo = { blob: new Blob([new Uint8Array([255, 216, 255])], { type: 'image/jpeg' }), width: 3, height: 1 };
    await enqueue(body, photo);
    const seen: (readonly Blob[] | undefined)[] = [];
    const server = fakeServer();
    await flushOutbox(async (key, b, photos) => {
      seen.push(photos);
      return server.send(key, b, photos);
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toHaveLength(1);
    expect(seen[0]![0].size).toBe(3);
    const [mine] = await listMine();
    expect(mine.photo).toMatchObject({ width: 3, height: 1 });
    expect(mine.photoSent).toBe(true);
  });

  it('discards, and tells listeners about changes', async () => {
    let changes = 0;
    const stop = onOutboxChange(() => changes++);
    const item = await enqueue(body);
    await discard(item.key);
    stop();
    expect(changes).toBeGreaterThanOrEqual(2);
    expect(await listOutbox()).toHaveLength(0);
  });

  it('hears what the service worker’s sends gave, and tells it to the others', async () => {
    // The service worker is another context: another channel of the same name.
    const worker = new BroadcastChannel('signalons-outbox');
    const heardByWorker: unknown[] = [];
    worker.onmessage = (event) => heardByWorker.push(event.data);
    const heard: SendResult[][] = [];
    const stop = onResultsElsewhere((results) => heard.push(results));
    let changes = 0;
    const stopChanges = onOutboxChange(() => changes++);
    const refused: SendResult = {
      key: 'k1',
      kind: 'report',
      verdict: 'rejected',
      problem: { type: 'about:blank', title: 'Unprocessable', status: 422, detail: 'bad', code: 'validation_failed' },
    };
    worker.postMessage({ results: [refused] });
    worker.postMessage('changed');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(heard).toEqual([[refused]]);
    expect(changes).toBe(1);

    shareResults([refused]);
    shareResults([]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(heardByWorker).toEqual([{ results: [refused] }]);
    stop();
    stopChanges();
    worker.close();
  });
});

/** A fake "me too": one support per device and incident, as the real one counts. */
function fakeSupports() {
  const devices = new Map<number, Set<string>>();
  const calls: number[] = [];
  const support: SupportSender = async (incidentId, b) => {
    calls.push(incidentId);
    const set = devices.get(incidentId) ?? new Set<string>();
    const newly = !set.has(b.device_id);
    set.add(b.device_id);
    devices.set(incidentId, set);
    return {
      ok: true,
      status: newly ? 201 : 200,
      result: { incident_id: incidentId, supporters_count: set.size, newly_supported: newly },
    };
  };
  return { support, calls, devices };
}

describe('outbox: "me too" items', () => {
  const device = { device_id: '2b1c6a4e-0000-4000-8000-000000000001' };

  it('waits offline beside reports, then is sent and the incident followed', async () => {
    const server = fakeServer();
    const supports = fakeSupports();
    await enqueue(body, null, new Date('2026-11-01T10:00:00Z'));
    const item = await enqueueSupport(7, device, new Date('2026-11-01T10:01:00Z'));
    expect(item.kind).toBe('support');

    const [first] = await flushOutbox(offline, offline as unknown as SupportSender);
    expect(first.verdict).toBe('retry');
    expect(await listOutbox()).toHaveLength(2);
    expect(await listFollowed()).toEqual([]);

    const results = await flushOutbox(server.send, supports.support);
    expect(results.map((r) => r.verdict)).toEqual(['sent', 'sent']);
    expect(results[1].support).toEqual({ incident_id: 7, supporters_count: 1, newly_supported: true });
    expect(server.calls).toHaveLength(1);
    expect(supports.calls).toEqual([7]);
    expect(await listOutbox()).toEqual([]);
    expect(await listMine()).toHaveLength(1);
    const followed = await listFollowed();
    expect(followed.map((f) => f.incidentId)).toEqual([7]);
    expect(followed[0].incident).toBeNull();
  });

  it('is harmless twice: the second answer is 200, still one supporter, still one follow', async () => {
    const supports = fakeSupports();
    const a = await enqueueSupport(7, device);
    await sendOne(a.key, fakeServer().send, supports.support);
    const b = await enqueueSupport(7, device);
    const again = await sendOne(b.key, fakeServer().send, supports.support);
    expect(again.verdict).toBe('sent');
    expect(again.support?.newly_supported).toBe(false);
    expect(again.support?.supporters_count).toBe(1);
    expect(await listFollowed()).toHaveLength(1);
  });

  it('is refused, not retried, when the incident is closed', async () => {
    const closed: SupportSender = async () =>
      ({ ok: false, status: 409, problem: problem(409, 'incident_closed') }) as SupportOutcome;
    await enqueueSupport(7, device);
    const [result] = await flushOutbox(fakeServer().send, closed);
    expect(result.verdict).toBe('rejected');
    expect(result.problem?.code).toBe('incident_closed');
    const [item] = await listOutbox();
    expect(item.state).toBe('rejected');
    expect(await flushOutbox(fakeServer().send, closed)).toEqual([]);
    expect(await listFollowed()).toEqual([]);
  });

  it('leaves a report item as it was (items stored before supports have no kind)', async () => {
    const item = await enqueue(body);
    const stored = await getOutboxItem(item.key);
    expect(stored && 'body' in stored && stored.body).toEqual(body);
  });
});
