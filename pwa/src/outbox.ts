// The outbox: every report (and every "me too") is first written to IndexedDB with an idempotency key made on the
// device, then sent — on submit, when the connection returns, when the app starts or regains
// focus, and by Background Sync from the service worker. The key makes a report sent twice
// (a lost answer, the page and the service worker racing) still one report on the server.
//
// Shared by the page and the service worker: no DOM here.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import {
  createReport,
  supportIncident,
  type CreateOutcome,
  type CreatedReport,
  type CreateReport,
  type Incident,
  type Problem,
  type Report,
  type ReportEvent,
  type SupportOutcome,
  type SupportRequest,
  type SupportResult,
} from './api';

export const DB_NAME = 'signalons';
const DB_VERSION = 2;
export const SYNC_TAG = 'signalons-outbox';
const CHANNEL = 'signalons-outbox';
const LOCK = 'signalons-outbox';

/** A photo resized on the device. Sent once the upload endpoint exists; kept until then. */
export interface StoredPhoto {
  blob: Blob;
  width: number;
  height: number;
}

export type OutboxState = 'pending' | 'rejected';

interface ItemBase {
  /** The Idempotency-Key (reports), or just the item's id (supports); never changed. */
  key: string;
  createdAt: string;
  state: OutboxState;
  attempts: number;
  lastAttemptAt: string | null;
  /** Why the last attempt failed: the server's problem, or a network error. */
  problem: Problem | null;
}

/** A report to create. Items stored before supports existed have no `kind`. */
export interface ReportItem extends ItemBase {
  kind?: 'report';
  body: CreateReport;
  photo: StoredPhoto | null;
}

/** A "me too" on an incident. Sending it twice is harmless: one support per device. */
export interface SupportItem extends ItemBase {
  kind: 'support';
  incidentId: number;
  body: SupportRequest;
  photo: null;
}

export type OutboxItem = ReportItem | SupportItem;

export const isSupport = (item: OutboxItem): item is SupportItem => item.kind === 'support';

/** An incident this device said "me too" to, with the last public state it saw. */
export interface Followed {
  incidentId: number;
  followedAt: string;
  incident: Incident | null;
  checkedAt: string | null;
}

/** A report this device sent, with the last public state it saw. */
export interface MyReport {
  id: number;
  key: string;
  sentAt: string;
  report: Report;
  events: ReportEvent[] | null;
  checkedAt: string | null;
  photo: StoredPhoto | null;
}

interface Schema extends DBSchema {
  outbox: { key: string; value: OutboxItem };
  mine: { key: number; value: MyReport };
  followed: { key: number; value: Followed };
}

let dbPromise: Promise<IDBPDatabase<Schema>> | null = null;

function db(): Promise<IDBPDatabase<Schema>> {
  dbPromise ??= openDB<Schema>(DB_NAME, DB_VERSION, {
    upgrade(database, oldVersion) {
      if (oldVersion < 1) {
        database.createObjectStore('outbox', { keyPath: 'key' });
        database.createObjectStore('mine', { keyPath: 'id' });
      }
      if (oldVersion < 2) database.createObjectStore('followed', { keyPath: 'incidentId' });
    },
    blocking() {
      // A newer version of the app wants to upgrade: let it.
      void dbPromise?.then((d) => d.close());
      dbPromise = null;
    },
  });
  return dbPromise;
}

/** Closes the connection (tests delete the database between cases). */
export async function closeDb(): Promise<void> {
  const pending = dbPromise;
  dbPromise = null;
  if (pending) (await pending).close();
}

// --- change notification, within this context and across the page and the service worker ---

type Listener = () => void;
const listeners = new Set<Listener>();
let channel: BroadcastChannel | null = null;

function getChannel(): BroadcastChannel | null {
  if (!channel && typeof BroadcastChannel !== 'undefined') {
    channel = new BroadcastChannel(CHANNEL);
    channel.onmessage = () => listeners.forEach((l) => l());
  }
  return channel;
}

export function onOutboxChange(listener: Listener): () => void {
  listeners.add(listener);
  getChannel();
  return () => listeners.delete(listener);
}

function notifyChange(): void {
  listeners.forEach((l) => l());
  getChannel()?.postMessage('changed');
}

// --- the rules ---

export type Verdict = 'sent' | 'retry' | 'rejected';

/**
 * What an answer means for an outbox item: 2xx is done; no answer (null), 408, 429 and 5xx are
 * worth retrying later; any other 4xx will not change by retrying and is shown to the resident.
 */
export function classify(status: number | null): Verdict {
  if (status === null) return 'retry';
  if (status >= 200 && status < 300) return 'sent';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  if (status >= 400) return 'rejected';
  return 'retry';
}

export function newKey(): string {
  return crypto.randomUUID();
}

// --- storage ---

/** A new item's bookkeeping: pending, never tried. */
const fresh = (key: string, now: Date) => ({
  key,
  createdAt: now.toISOString(),
  state: 'pending' as const,
  attempts: 0,
  lastAttemptAt: null,
  problem: null,
});

async function store<I extends OutboxItem>(item: I): Promise<I> {
  await (await db()).put('outbox', item);
  notifyChange();
  return item;
}

export function enqueue(
  body: CreateReport,
  photo: StoredPhoto | null = null,
  now: Date = new Date(),
  key: string = newKey(),
): Promise<ReportItem> {
  return store<ReportItem>({ ...fresh(key, now), kind: 'report', body, photo });
}

export function enqueueSupport(
  incidentId: number,
  body: SupportRequest,
  now: Date = new Date(),
  key: string = newKey(),
): Promise<SupportItem> {
  return store<SupportItem>({ ...fresh(key, now), kind: 'support', incidentId, body, photo: null });
}

export async function listOutbox(): Promise<OutboxItem[]> {
  const items = await (await db()).getAll('outbox');
  return items.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

export async function getOutboxItem(key: string): Promise<OutboxItem | undefined> {
  return (await db()).get('outbox', key);
}

export async function discard(key: string): Promise<void> {
  await (await db()).delete('outbox', key);
  notifyChange();
}

export async function listMine(): Promise<MyReport[]> {
  const items = await (await db()).getAll('mine');
  return items.sort((a, b) => b.sentAt.localeCompare(a.sentAt));
}

export async function updateMine(id: number, report: Report, events: ReportEvent[]): Promise<void> {
  const database = await db();
  const tx = database.transaction('mine', 'readwrite');
  const entry = await tx.store.get(id);
  if (entry) {
    await tx.store.put({ ...entry, report, events, checkedAt: new Date().toISOString() });
  }
  await tx.done;
}

export async function listFollowed(): Promise<Followed[]> {
  const items = await (await db()).getAll('followed');
  return items.sort((a, b) => b.followedAt.localeCompare(a.followedAt));
}

export async function updateFollowed(incident: Incident): Promise<void> {
  const database = await db();
  const tx = database.transaction('followed', 'readwrite');
  const entry = await tx.store.get(incident.id);
  if (entry) await tx.store.put({ ...entry, incident, checkedAt: new Date().toISOString() });
  await tx.done;
}

export async function unfollow(incidentId: number): Promise<void> {
  await (await db()).delete('followed', incidentId);
  notifyChange();
}

// --- sending ---

export type Sender = (key: string, body: CreateReport) => Promise<CreateOutcome>;
export type SupportSender = (incidentId: number, body: SupportRequest) => Promise<SupportOutcome>;

export interface SendResult {
  key: string;
  verdict: Verdict | 'gone';
  report?: CreatedReport;
  support?: SupportResult;
  problem?: Problem;
}

/** Runs `task` alone across every tab and the service worker when the platform allows it. */
let localQueue: Promise<unknown> = Promise.resolve();
function exclusively<T>(task: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (locks) return locks.request(LOCK, task) as Promise<T>;
  const run = localQueue.then(task, task);
  localQueue = run.catch(() => undefined);
  return run;
}

const networkProblem = (detail: string): Problem => ({
  type: 'about:blank',
  title: 'Network error',
  status: 0,
  detail,
  code: 'network',
});

async function sendUnlocked(key: string, send: Sender, support: SupportSender): Promise<SendResult> {
  const database = await db();
  const item = await database.get('outbox', key);
  // Sent meanwhile by another tab or the service worker.
  if (!item) return { key, verdict: 'gone' };

  let outcome: CreateOutcome | SupportOutcome | null = null;
  let failure: Problem | null = null;
  try {
    outcome = isSupport(item)
      ? await support(item.incidentId, item.body)
      : await send(item.key, item.body);
  } catch (error) {
    failure = networkProblem(error instanceof Error ? error.message : String(error));
  }
  const verdict = classify(outcome ? outcome.status : null);
  const now = new Date().toISOString();

  if (verdict === 'sent' && outcome?.ok && 'result' in outcome && isSupport(item)) {
    const tx = database.transaction(['outbox', 'followed'], 'readwrite');
    const followed = tx.objectStore('followed');
    const known = await followed.get(item.incidentId);
    await followed.put({
      incidentId: item.incidentId,
      followedAt: known?.followedAt ?? now,
      incident: known?.incident ?? null,
      checkedAt: known?.checkedAt ?? null,
    });
    await tx.objectStore('outbox').delete(item.key);
    await tx.done;
    notifyChange();
    return { key, verdict, support: outcome.result };
  }

  if (verdict === 'sent' && outcome?.ok && 'report' in outcome && !isSupport(item)) {
    const tx = database.transaction(['outbox', 'mine'], 'readwrite');
    await tx.objectStore('mine').put({
      id: outcome.report.id,
      key: item.key,
      sentAt: now,
      report: outcome.report,
      events: null,
      checkedAt: now,
      photo: item.photo,
    });
    await tx.objectStore('outbox').delete(item.key);
    await tx.done;
    notifyChange();
    return { key, verdict, report: outcome.report };
  }

  const problem = outcome && !outcome.ok ? outcome.problem : failure;
  await database.put('outbox', {
    ...item,
    state: verdict === 'rejected' ? 'rejected' : 'pending',
    attempts: item.attempts + 1,
    lastAttemptAt: now,
    problem,
  });
  notifyChange();
  return { key, verdict, problem: problem ?? undefined };
}

/** Sends one item now (also a rejected one: the resident asked). */
export function sendOne(
  key: string,
  send: Sender = createReport,
  support: SupportSender = supportIncident,
): Promise<SendResult> {
  return exclusively(() => sendUnlocked(key, send, support));
}

/**
 * Sends every pending item, oldest first. Rejected items wait for the resident. Stops at the
 * first network failure: the others would fail the same way.
 */
export function flushOutbox(
  send: Sender = createReport,
  support: SupportSender = supportIncident,
): Promise<SendResult[]> {
  return exclusively(async () => {
    const results: SendResult[] = [];
    for (const item of await listOutbox()) {
      if (item.state !== 'pending') continue;
      const result = await sendUnlocked(item.key, send, support);
      results.push(result);
      if (result.verdict === 'retry' && result.problem?.code === 'network') break;
    }
    return results;
  });
}
