import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Job, Outcome, Photo } from '../src/api';
import {
  cachedJob,
  closeDb,
  conflictOf,
  DB_NAME,
  discard,
  enqueueJob,
  flushOutbox,
  forgetCrewData,
  getOutboxItem,
  listOutbox,
  resumeSignedOut,
  retryOnVersion,
  sendOne,
  type JobItem,
  type JobSender,
  type Sender,
  type SupportSender,
} from '../src/outbox';

const noReports: Sender = async () => {
  throw new Error('no report here');
};
const noSupports: SupportSender = async () => {
  throw new Error('no support here');
};

function job(over: Partial<Job> = {}): Job {
  const now = '2026-12-01T10:00:00Z';
  return {
    id: 9,
    category: { code: 'pothole', name: 'Pothole' },
    status: 'submitted',
    priority: 2,
    latitude: 42.3467,
    longitude: -71.0972,
    description: 'Deep hole',
    report_count: 1,
    supporters_count: 0,
    version: 1,
    created_at: now,
    updated_at: now,
    overdue: false,
    assignee_id: null,
    ...over,
  };
}

/** A fake job API with the real rules: If-Match must be the current version. */
function fakeJobs(start: Job, me = 5) {
  let current = start;
  const calls: { action: string; version: number }[] = [];
  const send: JobSender = async (item: JobItem): Promise<Outcome<Job | Photo[]>> => {
    calls.push({ action: item.change.action, version: item.version });
    if (item.change.action === 'photo') return { ok: true, status: 201, data: [] };
    if (item.version !== current.version) {
      return {
        ok: false,
        status: 409,
        problem: {
          type: 'x',
          title: 'Conflict',
          status: 409,
          detail: 'changed',
          code: 'version_conflict',
          current,
        },
      };
    }
    const change = item.change;
    current = {
      ...current,
      version: current.version + 1,
      assignee_id:
        change.action === 'take' ? me : change.action === 'release' ? null : current.assignee_id,
      status: change.action === 'status' ? change.change.status : current.status,
    };
    return { ok: true, status: 200, data: current };
  };
  return {
    send,
    calls,
    get current() {
      return current;
    },
    set current(j: Job) {
      current = j;
    },
  };
}

const flush = (send: JobSender) => flushOutbox(noReports, noSupports, send);

beforeEach(async () => {
  await closeDb();
  await new Promise<void>((resolve, reject) => {
    const request = indexedDB.deleteDatabase(DB_NAME);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
});
afterEach(closeDb);

describe('outbox: a crew’s changes to jobs', () => {
  it('sends a change with the version the crew saw, and keeps the job as answered', async () => {
    const server = fakeJobs(job());
    await enqueueJob(9, 1, { action: 'take' });
    const [result] = await flush(server.send);
    expect(result.verdict).toBe('sent');
    expect(result.job?.assignee_id).toBe(5);
    expect(server.calls).toEqual([{ action: 'take', version: 1 }]);
    expect(await listOutbox()).toEqual([]);
    expect((await cachedJob(9))?.version).toBe(2);
  });

  it('chains changes made offline on the same view: each goes on the version the previous gave', async () => {
    const server = fakeJobs(job());
    const take = await enqueueJob(9, 1, { action: 'take' }, null, new Date('2026-12-01T10:00:00Z'));
    const status = await enqueueJob(
      9,
      1,
      { action: 'status', change: { status: 'resolved', explanation: 'Filled it' } },
      null,
      new Date('2026-12-01T10:01:00Z'),
    );
    const photo = { blob: new Blob([new Uint8Array([1])]), width: 1, height: 1 };
    const shot = await enqueueJob(9, 1, { action: 'photo' }, photo, new Date('2026-12-01T10:02:00Z'));
    expect(status.after).toBe(take.key);
    expect(shot.after).toBe(status.key);

    const results = await flush(server.send);
    expect(results.map((r) => r.verdict)).toEqual(['sent', 'sent', 'sent']);
    expect(server.calls).toEqual([
      { action: 'take', version: 1 },
      { action: 'status', version: 2 },
      { action: 'photo', version: 3 },
    ]);
    expect(server.current).toMatchObject({ status: 'resolved', assignee_id: 5, version: 3 });
  });

  it('does not overwrite a change made meanwhile: the conflict waits for the crew, with the job as it is', async () => {
    const server = fakeJobs(job());
    // Someone else changed it while this crew was offline.
    server.current = job({ version: 2, status: 'in_progress', assignee_id: 8 });
    const item = await enqueueJob(9, 1, {
      action: 'status',
      change: { status: 'resolved', explanation: 'Filled it' },
    });
    const [result] = await flush(server.send);
    expect(result.verdict).toBe('rejected');
    const kept = (await getOutboxItem(item.key))!;
    expect(kept.state).toBe('rejected');
    expect(conflictOf(kept)).toMatchObject({ version: 2, assignee_id: 8 });
    expect((await cachedJob(9))?.version).toBe(2);
    // Not retried by itself.
    expect(await flush(server.send)).toEqual([]);
    expect(server.current.status).toBe('in_progress');

    // The crew decides to apply it to the job as it is now.
    await retryOnVersion(item.key, 2);
    const [again] = await flush(server.send);
    expect(again.verdict).toBe('sent');
    expect(server.current.status).toBe('resolved');
  });

  it('a change chained to a refused one waits; discarding the refused one lets it go', async () => {
    const server = fakeJobs(job({ version: 4 }));
    const first = await enqueueJob(9, 1, { action: 'take' }, null, new Date('2026-12-01T10:00:00Z'));
    const second = await enqueueJob(9, 1, { action: 'release' }, null, new Date('2026-12-01T10:01:00Z'));
    const results = await flush(server.send);
    expect(results.map((r) => r.key)).toEqual([first.key]);
    expect((await getOutboxItem(second.key))!.state).toBe('pending');
    await discard(first.key);
    expect((await getOutboxItem(second.key)) as JobItem).toMatchObject({ after: null });
  });

  it('sendOne does not send a chained change before the one it follows', async () => {
    const server = fakeJobs(job());
    const first = await enqueueJob(9, 1, { action: 'take' });
    await sendOne(first.key, noReports, noSupports, server.send);
    expect(server.calls).toHaveLength(1);
  });

  it('changes refused while signed out go again once signed in; signing out forgets them', async () => {
    const signedOut: JobSender = async () => ({
      ok: false,
      status: 401,
      problem: { type: 'x', title: 'Signed out', status: 401, detail: '', code: 'signed_out' },
    });
    const item = await enqueueJob(9, 1, { action: 'take' });
    await flush(signedOut);
    expect((await getOutboxItem(item.key))!.state).toBe('rejected');
    await resumeSignedOut();
    expect((await getOutboxItem(item.key))!.state).toBe('pending');
    await forgetCrewData();
    expect(await listOutbox()).toEqual([]);
  });
});
