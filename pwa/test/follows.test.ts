import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// openapi-fetch keeps the fetch and Request it finds when the client is made: fakes are put in
// place before anything is imported (a Request that takes the app's relative URLs, as a page
// does, and a fetch answering as the test says).
const server = vi.hoisted(() => {
  const BaseRequest = globalThis.Request;
  globalThis.Request = class extends BaseRequest {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(typeof input === 'string' && input.startsWith('/') ? `http://app.test${input}` : input, init);
    }
  };
  const state = {
    calls: [] as { method: string; path: string; body: unknown }[],
    answer: (_method: string, _path: string): Response => new Response(null, { status: 500 }),
  };
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(String(input), init);
    const path = new URL(request.url, 'http://app.test').pathname;
    const text = await request.text();
    state.calls.push({ method: request.method, path, body: text ? JSON.parse(text) : null });
    return state.answer(request.method, path);
  }) as typeof fetch;
  return state;
});

import type { FollowedIncident, Incident, Problem, ReportEvent } from '../src/api';
import {
  closeDb,
  DB_NAME,
  enqueueFollow,
  enqueueSupport,
  flushOutbox,
  type FollowSender,
  listFollowed,
  listOutbox,
  replaceFollowed,
  sendOne,
  supportAndFollow,
  updateFollowed,
} from '../src/outbox';

const device = { device_id: '2b1c6a4e-0000-4000-8000-000000000009' };

function incident(id: number): Incident {
  return {
    id,
    jurisdiction: 'boston',
    category: { code: 'pothole', name: 'Pothole' },
    status: 'submitted',
    priority: 3,
    latitude: 42.3,
    longitude: -71.1,
    description: 'Deep hole',
    report_count: 1,
    supporters_count: 0,
    created_at: '2026-11-01T10:00:00Z',
    updated_at: '2026-11-01T10:00:00Z',
    overdue: false,
  };
}

const listed = (id: number, at = '2026-11-02T10:00:00Z'): FollowedIncident => ({
  incident: incident(id),
  followed_at: at,
  notified: false,
});

const event: ReportEvent = {
  id: 9,
  kind: 'status_changed',
  status_from: 'submitted',
  status_to: 'scheduled',
  explanation: 'Booked for Monday.',
  created_at: '2026-11-03T10:00:00Z',
};

const problem = (status: number, code: string): Problem => ({
  type: `urn:signalons:problem:${code}`,
  title: 'x',
  status,
  detail: code,
  code,
});

/** A follow sender that records what it was asked and answers `status`. */
function follows(status = 204) {
  const calls: [number, boolean][] = [];
  const send: FollowSender = async (item) => {
    calls.push([item.incidentId, item.follow]);
    return status < 300
      ? { ok: true, status, data: null }
      : { ok: false, status, problem: problem(status, 'incident_not_found') };
  };
  return { send, calls };
}

const noReports = async () => {
  throw new Error('no report here');
};
const noJobs = async () => {
  throw new Error('no job here');
};

beforeEach(async () => {
  await closeDb();
  server.calls.length = 0;
  await new Promise<void>((resolve, reject) => {
    const request = indexedDB.deleteDatabase(DB_NAME);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
});

afterEach(async () => {
  await closeDb();
});

describe('following through the outbox', () => {
  it('shows a follow at once, and only the latest wish waits', async () => {
    await enqueueFollow(7, true, device, incident(7));
    expect((await listFollowed()).map((f) => f.incidentId)).toEqual([7]);
    await enqueueFollow(7, false, device);
    const waiting = await listOutbox();
    expect(waiting).toHaveLength(1);
    expect(waiting[0]).toMatchObject({ kind: 'follow', incidentId: 7, follow: false });
    expect(await listFollowed()).toEqual([]);
  });

  it('sends the wish; refused because the problem is gone, it is not followed', async () => {
    const ok = follows();
    const item = await enqueueFollow(7, true, device, incident(7));
    const sent = await sendOne(item.key, noReports, undefined, noJobs, ok.send);
    expect(sent).toMatchObject({ verdict: 'sent', kind: 'follow', follow: { incidentId: 7, following: true } });
    expect(await listOutbox()).toEqual([]);
    expect((await listFollowed()).map((f) => f.incidentId)).toEqual([7]);

    const gone = follows(404);
    const other = await enqueueFollow(8, true, device, incident(8));
    const refused = await sendOne(other.key, noReports, undefined, noJobs, gone.send);
    expect(refused.verdict).toBe('rejected');
    expect(refused.problem?.code).toBe('incident_not_found');
    expect((await listFollowed()).map((f) => f.incidentId)).toEqual([7]);
    const [kept] = await listOutbox();
    expect(kept.state).toBe('rejected');
  });

  it('waits offline and goes in order after a "me too" on the same problem', async () => {
    const offline: FollowSender = async () => {
      throw new TypeError('Failed to fetch');
    };
    const supported: number[] = [];
    const support = async (id: number) => {
      supported.push(id);
      return {
        ok: true as const,
        status: 201,
        result: { incident_id: id, supporters_count: 1, newly_supported: true },
      };
    };
    await enqueueSupport(7, device, new Date('2026-11-01T10:00:00Z'));
    await enqueueFollow(7, false, device, null, new Date('2026-11-01T10:01:00Z'));
    const [first] = await flushOutbox(noReports, async () => {
      throw new TypeError('Failed to fetch');
    }, noJobs, offline);
    expect(first.verdict).toBe('retry');
    expect(await listOutbox()).toHaveLength(2);

    const order = follows();
    const results = await flushOutbox(noReports, support, noJobs, order.send);
    expect(results.map((r) => r.verdict)).toEqual(['sent', 'sent']);
    expect(supported).toEqual([7]);
    expect(order.calls).toEqual([[7, false]]);
    // The last wish was to stop following: not in the list, though supported.
    expect(await listFollowed()).toEqual([]);
  });
});

describe('the followed list from the server', () => {
  it('becomes the server’s, but for the wishes not sent yet, and keeps the history seen', async () => {
    // Followed here earlier: 1 (with its history), 2 (gone from the server), 3 (follow waiting).
    for (const id of [1, 2]) {
      await enqueueFollow(id, true, device, incident(id));
      await flushOutbox(noReports, undefined, noJobs, follows().send);
    }
    await updateFollowed(1, { events: [event], moreEvents: true });
    await enqueueFollow(3, true, device, incident(3));
    // Stop following 4, not sent yet; the server still lists it.
    await enqueueFollow(4, false, device);

    // Asked after those were sent.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const askedAt = new Date();
    expect(await replaceFollowed([listed(1), listed(4), listed(5, '2026-11-05T10:00:00Z')], askedAt)).toBe(true);
    const now = await listFollowed();
    expect(now.map((f) => f.incidentId).sort()).toEqual([1, 3, 5]);
    const one = now.find((f) => f.incidentId === 1);
    expect(one?.events).toEqual([event]);
    expect(one?.moreEvents).toBe(true);
    expect(one?.followedAt).toBe('2026-11-02T10:00:00Z');
    expect(now.find((f) => f.incidentId === 5)?.incident?.id).toBe(5);
  });

  it('ignores a list asked for before a wish was sent (the server answered before it knew)', async () => {
    const askedAt = new Date(Date.now() - 1000);
    const item = await enqueueFollow(7, false, device);
    await sendOne(item.key, noReports, undefined, noJobs, follows().send);
    // The list the server gave while the unfollow was on its way still has 7.
    expect(await replaceFollowed([listed(7)], askedAt)).toBe(false);
    expect(await listFollowed()).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await replaceFollowed([], new Date())).toBe(true);
  });
});

describe('"me too" and following together', () => {
  it('supports, then follows as this device, without the address the support keeps', async () => {
    server.answer = (_method, path) =>
      path.endsWith('/supports')
        ? Response.json({ incident_id: 7, supporters_count: 2, newly_supported: true }, { status: 201 })
        : Response.json({ incident_id: 7, notified: false }, { status: 201 });
    const outcome = await supportAndFollow(7, { ...device, notify_email: 'me@example.org' });
    expect(outcome).toMatchObject({ ok: true, status: 201, result: { supporters_count: 2 } });
    expect(server.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /api/v1/incidents/7/supports',
      'POST /api/v1/incidents/7/follow',
    ]);
    expect(server.calls[0].body).toEqual({ ...device, notify_email: 'me@example.org' });
    expect(server.calls[1].body).toEqual(device);
  });

  it('does not follow a problem that refused the "me too"; a failed follow is the answer', async () => {
    server.answer = () =>
      Response.json(problem(409, 'incident_closed'), {
        status: 409,
        headers: { 'Content-Type': 'application/problem+json' },
      });
    const closed = await supportAndFollow(7, device);
    expect(closed).toMatchObject({ ok: false, status: 409, problem: { code: 'incident_closed' } });
    expect(server.calls).toHaveLength(1);

    server.calls.length = 0;
    server.answer = (_method, path) =>
      path.endsWith('/supports')
        ? Response.json({ incident_id: 7, supporters_count: 1, newly_supported: false })
        : new Response('busy', { status: 503 });
    const retry = await supportAndFollow(7, device);
    expect(retry).toMatchObject({ ok: false, status: 503 });
  });
});
