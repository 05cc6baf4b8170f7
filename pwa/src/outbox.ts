// The outbox: every report (and every "me too", follow and unfollow) is first written to
// IndexedDB with an idempotency key made on the device, then sent — on submit, when the connection returns, when the app starts or regains
// focus, and by Background Sync from the service worker. The key makes a report sent twice
// (a lost answer, the page and the service worker racing) still one report on the server.
//
// Shared by the page and the service worker: no DOM here.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import {
  createReport,
  setFollowing,
  type FollowedIncident,
  type FollowRequest,
  type Job,
  type JobAction,
  type Outcome,
  type Photo,
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
const DB_VERSION = 3;
export const SYNC_TAG = 'signalons-outbox';
const CHANNEL = 'signalons-outbox';
const LOCK = 'signalons-outbox';

/** A photo resized on the device, sent with its report (or, for crews, with their change). */
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

/** Following an incident, or no longer. Harmless twice; only the latest wish is kept. */
export interface FollowItem extends ItemBase {
  kind: 'follow';
  incidentId: number;
  /** Follow (true) or stop following (false). */
  follow: boolean;
  body: FollowRequest;
  photo: null;
}

/** What a crew does to a job: the API's actions, and a photo of the work. */
export type JobChange = JobAction | { action: 'photo' };

/** A crew's change to a job, conditional on the version they saw (If-Match). */
export interface JobItem extends ItemBase {
  kind: 'job';
  jobId: number;
  /** The job's version this change applies to (sent as If-Match). */
  version: number;
  /**
   * An earlier change to the same job that was still waiting when this one was made: this one
   * is sent after it, on the version its answer gives (the crew made both on the same view).
   */
  after: string | null;
  change: JobChange;
  photo: StoredPhoto | null;
}

export type OutboxItem = ReportItem | SupportItem | FollowItem | JobItem;

export const isSupport = (item: OutboxItem): item is SupportItem => item.kind === 'support';
export const isFollow = (item: OutboxItem): item is FollowItem => item.kind === 'follow';
export const isJob = (item: OutboxItem): item is JobItem => item.kind === 'job';
export const isReport = (item: OutboxItem): item is ReportItem =>
  item.kind === undefined || item.kind === 'report';

/** A 409 answer carries the job as it is now: the crew decides again, nothing is overwritten. */
export function conflictOf(item: OutboxItem): Job | null {
  if (!isJob(item) || item.problem?.status !== 409) return null;
  const current = item.problem.current as Partial<Job> | undefined;
  return current && typeof current.version === 'number' ? (current as Job) : null;
}

/**
 * An incident this device follows (it said "me too", or "follow"), with the last public state
 * it saw: the server's list kept for offline use, and the wishes not sent yet.
 */
export interface Followed {
  incidentId: number;
  followedAt: string;
  incident: Incident | null;
  checkedAt: string | null;
  /** Its latest public history, newest first (entries kept before histories have none). */
  events?: ReportEvent[] | null;
  /** Whether older history exists than `events` holds. */
  moreEvents?: boolean;
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
  /** The photo went with the report (entries sent before photos were accepted kept it here only). */
  photoSent?: boolean;
}

interface Schema extends DBSchema {
  outbox: { key: string; value: OutboxItem };
  mine: { key: number; value: MyReport };
  followed: { key: number; value: Followed };
  /** Small records by name: the staff session, the crew's last queue. */
  meta: { key: string; value: unknown };
  /** The last state seen of the jobs a crew looked at, for offline use. */
  jobs: { key: number; value: Job };
}

let dbPromise: Promise<IDBPDatabase<Schema>> | null = null;

export function db(): Promise<IDBPDatabase<Schema>> {
  dbPromise ??= openDB<Schema>(DB_NAME, DB_VERSION, {
    upgrade(database, oldVersion) {
      if (oldVersion < 1) {
        database.createObjectStore('outbox', { keyPath: 'key' });
        database.createObjectStore('mine', { keyPath: 'id' });
      }
      if (oldVersion < 2) database.createObjectStore('followed', { keyPath: 'incidentId' });
      if (oldVersion < 3) {
        database.createObjectStore('meta');
        database.createObjectStore('jobs', { keyPath: 'id' });
      }
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
type ResultsListener = (results: SendResult[]) => void;
const listeners = new Set<Listener>();
const resultListeners = new Set<ResultsListener>();
let channel: BroadcastChannel | null = null;

/** What goes over the channel: the outbox changed, or what another context's sends gave. */
type ChannelMessage = 'changed' | { results: SendResult[] };

function getChannel(): BroadcastChannel | null {
  if (!channel && typeof BroadcastChannel !== 'undefined') {
    channel = new BroadcastChannel(CHANNEL);
    channel.onmessage = (event: MessageEvent<ChannelMessage>) => {
      const message = event.data;
      if (typeof message === 'object' && message !== null && Array.isArray(message.results)) {
        resultListeners.forEach((l) => l(message.results));
      } else {
        listeners.forEach((l) => l());
      }
    };
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
  getChannel()?.postMessage('changed' satisfies ChannelMessage);
}

/**
 * Tells the other contexts what sends made here gave: the service worker's Background Sync
 * sends while the app may be open, and the app says what became of them (sent, refused).
 */
export function shareResults(results: SendResult[]): void {
  if (results.length > 0) getChannel()?.postMessage({ results } satisfies ChannelMessage);
}

/** What another context's sends gave (see shareResults). */
export function onResultsElsewhere(listener: ResultsListener): () => void {
  resultListeners.add(listener);
  getChannel();
  return () => resultListeners.delete(listener);
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

/**
 * Queues following `incidentId` (or no longer), replacing any earlier wish not sent yet, and
 * shows it at once in the followed list kept here (`incident`: what the screen knows of it).
 */
export async function enqueueFollow(
  incidentId: number,
  follow: boolean,
  body: FollowRequest,
  incident: Incident | null = null,
  now: Date = new Date(),
  key: string = newKey(),
): Promise<FollowItem> {
  const item: FollowItem = { ...fresh(key, now), kind: 'follow', incidentId, follow, body, photo: null };
  const tx = (await db()).transaction(['outbox', 'followed'], 'readwrite');
  const outbox = tx.objectStore('outbox');
  for (const earlier of await outbox.getAll()) {
    if (isFollow(earlier) && earlier.incidentId === incidentId) await outbox.delete(earlier.key);
  }
  await outbox.put(item);
  const followed = tx.objectStore('followed');
  if (follow) {
    const known = await followed.get(incidentId);
    await followed.put(
      known
        ? { ...known, incident: incident ?? known.incident }
        : { incidentId, followedAt: item.createdAt, incident, checkedAt: incident ? item.createdAt : null },
    );
  } else {
    await followed.delete(incidentId);
  }
  await tx.done;
  notifyChange();
  return item;
}

/**
 * Queues a crew's change to a job seen at `version`. When an earlier change to the same job is
 * still waiting, this one is chained to it.
 */
export async function enqueueJob(
  jobId: number,
  version: number,
  change: JobChange,
  photo: StoredPhoto | null = null,
  now: Date = new Date(),
  key: string = newKey(),
): Promise<JobItem> {
  const waiting = (await listOutbox()).filter((i) => isJob(i) && i.jobId === jobId);
  const last = waiting[waiting.length - 1];
  return store<JobItem>({
    ...fresh(key, now),
    kind: 'job',
    jobId,
    version,
    after: last ? last.key : null,
    change,
    photo,
  });
}

/** After a conflict, the crew chose to apply their change to the job as it is now. */
export async function retryOnVersion(key: string, version: number): Promise<void> {
  const item = await getOutboxItem(key);
  if (!item || !isJob(item)) return;
  await store<JobItem>({ ...item, version, state: 'pending', problem: null });
}

/** Sends again the crew's changes refused because they were signed out, once signed in. */
export async function resumeSignedOut(): Promise<void> {
  const database = await db();
  for (const item of await database.getAll('outbox')) {
    if (isJob(item) && item.state === 'rejected' && item.problem?.status === 401) {
      await database.put('outbox', { ...item, state: 'pending', problem: null });
    }
  }
  notifyChange();
}

export async function cachedJob(id: number): Promise<Job | undefined> {
  return (await db()).get('jobs', id);
}

export async function cacheJobs(jobs: readonly Job[]): Promise<void> {
  const tx = (await db()).transaction('jobs', 'readwrite');
  await Promise.all(jobs.map((job) => tx.store.put(job)));
  await tx.done;
}

export async function getMeta<T>(name: string): Promise<T | undefined> {
  return (await (await db()).get('meta', name)) as T | undefined;
}

export async function setMeta(name: string, value: unknown): Promise<void> {
  await (await db()).put('meta', value, name);
}

export async function deleteMeta(name: string): Promise<void> {
  await (await db()).delete('meta', name);
}

/** Signing out: the crew's cached jobs and waiting changes go with the session. */
export async function forgetCrewData(): Promise<void> {
  const database = await db();
  const tx = database.transaction(['outbox', 'jobs'], 'readwrite');
  await tx.objectStore('jobs').clear();
  for (const item of await tx.objectStore('outbox').getAll()) {
    if (isJob(item)) await tx.objectStore('outbox').delete(item.key);
  }
  await tx.done;
  notifyChange();
}

export async function listOutbox(): Promise<OutboxItem[]> {
  const items = await (await db()).getAll('outbox');
  return items.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

export async function getOutboxItem(key: string): Promise<OutboxItem | undefined> {
  return (await db()).get('outbox', key);
}

export async function discard(key: string): Promise<void> {
  const database = await db();
  const tx = database.transaction('outbox', 'readwrite');
  await tx.store.delete(key);
  // A change that waited for this one now goes on its own (and meets any conflict itself).
  for (const item of await tx.store.getAll()) {
    if (isJob(item) && item.after === key) await tx.store.put({ ...item, after: null });
  }
  await tx.done;
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

/** The incidents this device follows by what it wished last: following or not (the wishes
 *  still in the outbox, "me too" included). */
function wishes(items: readonly OutboxItem[]): Map<number, boolean> {
  const wished = new Map<number, boolean>();
  for (const item of [...items].sort((a, b) => a.createdAt.localeCompare(b.createdAt))) {
    if (isFollow(item)) wished.set(item.incidentId, item.follow);
    else if (isSupport(item) && item.state === 'pending') wished.set(item.incidentId, true);
  }
  return wished;
}

/** The incidents this device said "me too" to (newest last), so it is not offered twice. */
const SUPPORTED = 'supported';
/** How many of them are remembered. */
const SUPPORTED_KEPT = 500;

export async function listSupported(): Promise<number[]> {
  return ((await getMeta<number[]>(SUPPORTED)) ?? []).filter((id) => typeof id === 'number');
}

/** When this device last changed what it follows on the server (a follow, an unfollow or a
 *  "me too" sent): a list asked for before then is out of date. */
const FOLLOWS_SENT_AT = 'followsSentAt';

/**
 * Makes the followed list kept here the server's (`listed`, what this device follows there, as
 * asked at `askedAt`), but for the wishes not sent yet: a follow waiting is kept, an unfollow
 * waiting stays out. The history already kept of each incident stays with it. A list asked
 * for before a wish was sent is out of date: nothing changes (whether it did is returned).
 */
export async function replaceFollowed(
  listed: readonly FollowedIncident[],
  askedAt: Date,
  now: Date = new Date(),
): Promise<boolean> {
  const tx = (await db()).transaction(['outbox', 'followed', 'meta'], 'readwrite');
  const sentAt = (await tx.objectStore('meta').get(FOLLOWS_SENT_AT)) as string | undefined;
  if (sentAt !== undefined && sentAt >= askedAt.toISOString()) {
    await tx.done;
    return false;
  }
  const wished = wishes(await tx.objectStore('outbox').getAll());
  const store = tx.objectStore('followed');
  const kept = new Map((await store.getAll()).map((entry) => [entry.incidentId, entry]));
  const next = new Map<number, Followed>();
  for (const { incident, followed_at } of listed) {
    if (wished.get(incident.id) === false) continue;
    const known = kept.get(incident.id);
    next.set(incident.id, {
      ...known,
      incidentId: incident.id,
      followedAt: followed_at,
      incident,
      checkedAt: now.toISOString(),
    });
  }
  for (const [incidentId, follow] of wished) {
    const known = kept.get(incidentId);
    if (follow && !next.has(incidentId) && known) next.set(incidentId, known);
  }
  for (const incidentId of kept.keys()) {
    if (!next.has(incidentId)) await store.delete(incidentId);
  }
  for (const entry of next.values()) await store.put(entry);
  await tx.done;
  notifyChange();
  return true;
}

/** Keeps what was last seen of a followed incident and its latest history, for offline use. */
export async function updateFollowed(
  incidentId: number,
  seen: { incident?: Incident; events?: ReportEvent[]; moreEvents?: boolean },
): Promise<void> {
  const tx = (await db()).transaction('followed', 'readwrite');
  const entry = await tx.store.get(incidentId);
  if (entry) await tx.store.put({ ...entry, ...seen, checkedAt: new Date().toISOString() });
  await tx.done;
}

// --- sending ---

export type Sender = (
  key: string,
  body: CreateReport,
  photos?: readonly Blob[],
) => Promise<CreateOutcome>;
export type SupportSender = (incidentId: number, body: SupportRequest) => Promise<SupportOutcome>;
/** Follows an incident, or stops. */
export type FollowSender = (item: FollowItem) => Promise<Outcome<null>>;

/**
 * "Me too", and following what one supports: the device's follow is what lists it on the
 * server (a support alone does not), without an address — the support keeps the one given,
 * and the server mails each address once. Sent again, both are harmless.
 */
export async function supportAndFollow(
  incidentId: number,
  body: SupportRequest,
): Promise<SupportOutcome> {
  const supported = await supportIncident(incidentId, body);
  if (!supported.ok) return supported;
  const followed = await setFollowing(incidentId, true, { device_id: body.device_id });
  return followed.ok ? supported : followed;
}

const sendFollow: FollowSender = (item) => setFollowing(item.incidentId, item.follow, item.body);
/** Sends a crew's change (signed in); the answer is the job, or the stored photos. */
export type JobSender = (item: JobItem) => Promise<Outcome<Job | Photo[]>>;

/** Until src/auth.ts installs the signed-in sender, a crew change cannot go. */
let defaultJobSender: JobSender = async () => ({
  ok: false,
  status: 401,
  problem: {
    type: 'about:blank',
    title: 'Signed out',
    status: 401,
    detail: 'sign in to send it',
    code: 'signed_out',
  },
});
export function setJobSender(sender: JobSender): void {
  defaultJobSender = sender;
}

export interface SendResult {
  key: string;
  kind?: 'report' | 'support' | 'follow' | 'job';
  verdict: Verdict | 'gone';
  report?: CreatedReport;
  support?: SupportResult;
  job?: Job;
  /** A follow or unfollow: which incident, and whether it is now followed. */
  follow?: { incidentId: number; following: boolean };
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

const isJobAnswer = (data: Job | Photo[]): data is Job => !Array.isArray(data);

/** Who sends each kind of item (tests give fakes). */
interface Senders {
  send: Sender;
  support: SupportSender;
  job: JobSender;
  follow: FollowSender;
}

async function sendUnlocked(key: string, senders: Senders): Promise<SendResult> {
  const { send, support, job, follow } = senders;
  const database = await db();
  const item = await database.get('outbox', key);
  // Sent meanwhile by another tab or the service worker.
  if (!item) return { key, verdict: 'gone' };
  const kind = isJob(item) ? 'job' : isSupport(item) ? 'support' : isFollow(item) ? 'follow' : 'report';

  let outcome: CreateOutcome | SupportOutcome | Outcome<Job | Photo[] | null> | null = null;
  let failure: Problem | null = null;
  try {
    outcome = isSupport(item)
      ? await support(item.incidentId, item.body)
      : isJob(item)
        ? await job(item)
        : isFollow(item)
          ? await follow(item)
          : await send(item.key, item.body, item.photo ? [item.photo.blob] : []);
  } catch (error) {
    failure = networkProblem(error instanceof Error ? error.message : String(error));
  }
  const verdict = classify(outcome ? outcome.status : null);
  const now = new Date().toISOString();

  if (verdict === 'sent' && outcome?.ok && 'result' in outcome && isSupport(item)) {
    const tx = database.transaction(['outbox', 'followed', 'meta'], 'readwrite');
    const meta = tx.objectStore('meta');
    await meta.put(now, FOLLOWS_SENT_AT);
    const supported = ((await meta.get(SUPPORTED)) as number[] | undefined) ?? [];
    const kept = [...supported.filter((id) => id !== item.incidentId), item.incidentId];
    await meta.put(kept.slice(-SUPPORTED_KEPT), SUPPORTED);
    const followed = tx.objectStore('followed');
    const known = await followed.get(item.incidentId);
    await followed.put(
      known ?? { incidentId: item.incidentId, followedAt: now, incident: null, checkedAt: null },
    );
    await tx.objectStore('outbox').delete(item.key);
    await tx.done;
    notifyChange();
    return { key, kind, verdict, support: outcome.result };
  }

  if (isFollow(item) && verdict !== 'retry') {
    // Sent: the list kept here already shows it. Refused (the incident is gone): not followed.
    const tx = database.transaction(['outbox', 'followed', 'meta'], 'readwrite');
    const following = item.follow && verdict === 'sent';
    if (verdict === 'sent') await tx.objectStore('meta').put(now, FOLLOWS_SENT_AT);
    if (!following) await tx.objectStore('followed').delete(item.incidentId);
    if (verdict === 'sent') await tx.objectStore('outbox').delete(item.key);
    else {
      await tx.objectStore('outbox').put({
        ...item,
        state: 'rejected',
        attempts: item.attempts + 1,
        lastAttemptAt: now,
        problem: outcome && !outcome.ok ? outcome.problem : failure,
      });
    }
    await tx.done;
    notifyChange();
    const problem = outcome && !outcome.ok ? outcome.problem : undefined;
    return { key, kind, verdict, follow: { incidentId: item.incidentId, following }, problem };
  }

  if (verdict === 'sent' && outcome?.ok && 'data' in outcome && isJob(item)) {
    const answer = outcome.data as Job | Photo[];
    const tx = database.transaction(['outbox', 'jobs'], 'readwrite');
    const outbox = tx.objectStore('outbox');
    await outbox.delete(item.key);
    // The changes made after this one, on the same view, apply to the version it produced.
    for (const next of await outbox.getAll()) {
      if (isJob(next) && next.after === item.key) {
        await outbox.put({
          ...next,
          after: null,
          version: isJobAnswer(answer) ? answer.version : next.version,
        });
      }
    }
    if (isJobAnswer(answer)) await tx.objectStore('jobs').put(answer);
    await tx.done;
    notifyChange();
    return { key, kind, verdict, job: isJobAnswer(answer) ? answer : undefined };
  }

  if (verdict === 'sent' && outcome?.ok && 'report' in outcome && isReport(item)) {
    const tx = database.transaction(['outbox', 'mine'], 'readwrite');
    await tx.objectStore('mine').put({
      id: outcome.report.id,
      key: item.key,
      sentAt: now,
      report: outcome.report,
      events: null,
      checkedAt: now,
      photo: item.photo,
      photoSent: item.photo !== null,
    });
    await tx.objectStore('outbox').delete(item.key);
    await tx.done;
    notifyChange();
    return { key, kind, verdict, report: outcome.report };
  }

  const problem = outcome && !outcome.ok ? outcome.problem : failure;
  // A conflict brings the job as it is now: shown to the crew, who decides again.
  const current = conflictOf({ ...item, problem } as OutboxItem);
  if (current) await database.put('jobs', current);
  await database.put('outbox', {
    ...item,
    state: verdict === 'rejected' ? 'rejected' : 'pending',
    attempts: item.attempts + 1,
    lastAttemptAt: now,
    problem,
  });
  notifyChange();
  return { key, kind, verdict, problem: problem ?? undefined };
}

/** Sends one item now (also a rejected one: the resident asked). */
export function sendOne(
  key: string,
  send: Sender = createReport,
  support: SupportSender = supportAndFollow,
  job: JobSender = defaultJobSender,
  follow: FollowSender = sendFollow,
): Promise<SendResult> {
  return exclusively(() => sendUnlocked(key, { send, support, job, follow }));
}

/**
 * Sends every pending item, oldest first. Rejected items wait for the resident. Stops at the
 * first network failure: the others would fail the same way.
 */
export function flushOutbox(
  send: Sender = createReport,
  support: SupportSender = supportAndFollow,
  job: JobSender = defaultJobSender,
  follow: FollowSender = sendFollow,
): Promise<SendResult[]> {
  const senders = { send, support, job, follow };
  return exclusively(async () => {
    const results: SendResult[] = [];
    for (const item of await listOutbox()) {
      if (item.state !== 'pending') continue;
      // Waits for the change it follows (still here: refused, or not sent yet).
      if (isJob(item) && item.after && (await getOutboxItem(item.after))) continue;
      const result = await sendUnlocked(item.key, senders);
      results.push(result);
      if (result.verdict === 'retry' && result.problem?.code === 'network') break;
    }
    return results;
  });
}
