// The crew's screens: sign in, the queue (a list and a map), a job (take it, give it back,
// change its status with the public explanation). Every change goes through the outbox, as
// residents' reports do: it works offline and is sent later with If-Match on the version the
// crew saw; a conflict comes back to the crew instead of overwriting someone else's change.
// Loaded on demand (src/crew/loader.tsx).
import { useEffect, useRef, useState } from 'preact/hooks';
import { getJob, getQueue, type BBox, type Job, type Problem, type ReportStatus } from '../api';
import { getSession, onSessionChange, signIn, signOut, withToken, type StoredSession } from '../auth';
import { formatCoordinate, formatDateTime, formatDueDate, isMessageKey } from '../i18n';
import {
  cachedJob,
  cacheJobs,
  conflictOf,
  discard,
  enqueueJob,
  getMeta,
  getOutboxItem,
  isJob,
  listOutbox,
  onOutboxChange,
  retryOnVersion,
  setMeta,
  type JobChange,
  type JobItem,
  type StoredPhoto,
} from '../outbox';
import { linkClick, navigate, type Route } from '../router';
import { announce, catalogStore, categoryName, onlineStore, useStore, useT, type T } from '../state';
import { flushNow } from '../sync';
import { DateTime, PhotoPicker, PhotoThumb, StatusBadge, describeFieldError } from '../components';
import { statusKey } from '../status';
import { useLazyMap } from '../map/useLazyMap';
import { crewTranslate, isCrewKey, type CrewT } from './i18n';
import {
  assignment,
  countsText,
  distanceText,
  nextStatuses,
  priorityKey,
  projectJob,
} from './jobs';

// --- shared state ---

/** The crew strings (`c`) and the app's (`t`: statuses, dates, field errors). */
function useCrewT(): { lang: ReturnType<typeof useT>['lang']; c: CrewT; t: T } {
  const { lang, t } = useT();
  return { lang, t, c: (key, params) => crewTranslate(lang, key, params) };
}

function useSession(): { session: StoredSession | null; ready: boolean } {
  const [state, setState] = useState<{ session: StoredSession | null; ready: boolean }>({
    session: null,
    ready: false,
  });
  useEffect(() => {
    const load = () =>
      void getSession().then(
        (session) => setState({ session, ready: true }),
        () => setState({ session: null, ready: true }),
      );
    load();
    return onSessionChange(load);
  }, []);
  return state;
}

function useJobItems(): JobItem[] {
  const [items, setItems] = useState<JobItem[]>([]);
  useEffect(() => {
    const load = () =>
      void listOutbox().then(
        (all) => setItems(all.filter(isJob)),
        () => {},
      );
    load();
    return onOutboxChange(load);
  }, []);
  return items;
}

/** A problem in the crew's language when its code is known, else the server's words. */
function problemText(c: CrewT, t: T, problem: Problem): string {
  const key = `error.${problem.code}`;
  if (isCrewKey(key)) return c(key);
  if (isMessageKey(key)) return t(key);
  if (problem.errors?.length) return problem.errors.map((e) => describeFieldError(t, e)).join('; ');
  return problem.detail || problem.title;
}

function Icon({ d }: { d: string }) {
  return (
    <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
      <path fill="currentColor" d={d} />
    </svg>
  );
}

function PriorityTag({ priority }: { priority: number }) {
  const { c } = useCrewT();
  return (
    <span class={`priority p${Math.min(5, Math.max(1, priority))}`}>{c(priorityKey(priority))}</span>
  );
}

function OverdueTag() {
  const { c } = useCrewT();
  return (
    <span class="overdue">
      <span aria-hidden="true">⚠ </span>
      {c('overdue')}
    </span>
  );
}

function CrewBar({ session }: { session: StoredSession }) {
  const { c } = useCrewT();
  const items = useJobItems();
  const [confirming, setConfirming] = useState(false);
  const user = session.user;
  const role = c(`role.${user.role}` as 'role.crew');
  async function out(): Promise<void> {
    if (items.length > 0 && !confirming) {
      setConfirming(true);
      return;
    }
    await signOut();
    announce(c('signout.done'));
    navigate('/staff');
  }
  return (
    <div class="crew-bar">
      <p>
        {c('who', { name: user.display_name || user.email })}
        <span class="muted">
          {' '}
          ({role}
          {user.departments.length > 0 && `, ${user.departments.join(', ')}`})
        </span>
      </p>
      {confirming && <p class="warn">{c('signout.pending', { n: items.length })}</p>}
      <button type="button" class={confirming ? 'danger' : 'link'} onClick={() => void out()}>
        {confirming ? c('signout.confirm') : c('signout')}
      </button>
    </div>
  );
}

// --- sign in ---

function SignInScreen() {
  const { c, t } = useCrewT();
  const online = useStore(onlineStore);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const errorBox = useRef<HTMLDivElement>(null);

  async function submit(event: Event): Promise<void> {
    event.preventDefault();
    if (busy) return;
    setError(null);
    if (!navigator.onLine) {
      setError(c('signin.offline'));
      requestAnimationFrame(() => errorBox.current?.focus());
      return;
    }
    setBusy(true);
    try {
      const result = await signIn(email.trim(), password);
      if (!result.ok) {
        setError(c('signin.failed', { detail: problemText(c, t, result.problem) }));
        requestAnimationFrame(() => errorBox.current?.focus());
        return;
      }
      setPassword('');
      void flushNow();
    } catch {
      setError(c('signin.failed', { detail: t('error.network') }));
      requestAnimationFrame(() => errorBox.current?.focus());
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="screen" aria-labelledby="signin-title">
      <h1 id="signin-title" tabIndex={-1}>
        {c('signin.title')}
      </h1>
      <p>{c('signin.intro')}</p>
      {!online && <p class="notice">{c('signin.offline')}</p>}
      <form onSubmit={(e) => void submit(e)} noValidate>
        {error && (
          <div class="error-box" role="alert" tabIndex={-1} ref={errorBox}>
            <p>{error}</p>
          </div>
        )}
        <label for="s-email">{c('signin.email')}</label>
        <input
          id="s-email"
          type="email"
          autoComplete="username"
          required
          maxLength={254}
          value={email}
          onInput={(e) => setEmail((e.target as HTMLInputElement).value)}
        />
        <label for="s-password">{c('signin.password')}</label>
        <input
          id="s-password"
          type="password"
          autoComplete="current-password"
          required
          maxLength={128}
          value={password}
          onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
        />
        <button type="submit" class="primary" aria-disabled={busy ? 'true' : undefined}>
          {busy ? c('signin.working') : c('signin.submit')}
        </button>
      </form>
      <p>
        <a href="/" onClick={linkClick}>
          <span aria-hidden="true">← </span>
          {c('signin.back')}
        </a>
      </p>
    </section>
  );
}

// --- the queue ---

interface QueueCache {
  jobs: Job[];
  at: string;
}

type QueueState =
  | { state: 'loading' }
  | { state: 'ok'; jobs: Job[]; at: string; stale: boolean }
  | { state: 'never' }
  | { state: 'error'; detail: string; cache: QueueCache | null };

type Whose = '' | 'mine' | 'none';

function where(): Promise<{ lat: number; long: number } | null> {
  return new Promise((resolve) => {
    if (!('geolocation' in navigator)) return resolve(null);
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: Number(p.coords.latitude.toFixed(6)), long: Number(p.coords.longitude.toFixed(6)) }),
      () => resolve(null),
      { timeout: 4000, maximumAge: 60_000 },
    );
  });
}

function JobCard({
  job,
  n,
  me,
  waiting,
}: {
  job: Job;
  n: number;
  me: number;
  waiting: number;
}) {
  const { lang, c } = useCrewT();
  const catalog = useStore(catalogStore);
  const distance = distanceText(c, lang, job.distance_m);
  const who = assignment(job.assignee_id, me);
  return (
    <li class={`card job${job.overdue ? ' is-overdue' : ''}`}>
      <h2 class="job-title">
        <span class="num" aria-hidden="true">
          {n}
        </span>
        <a href={`/staff/jobs/${job.id}`} onClick={linkClick}>
          {categoryName(catalog, job.category.code, lang, job.category.name)}
          <span class="muted"> · {c('job.title', { id: job.id })}</span>
        </a>
      </h2>
      <p class="meta tags">
        <PriorityTag priority={job.priority} />
        {job.overdue && <OverdueTag />}
        <StatusBadge status={job.status} />
      </p>
      <p class="address">
        {job.address || `${formatCoordinate(job.latitude)}, ${formatCoordinate(job.longitude)}`}
        {distance && <span class="muted"> · {distance}</span>}
      </p>
      {job.description && <p class="description clamp">{job.description}</p>}
      <p class="muted small">
        {c(`assignee.${who}`)} · {countsText(c, job)}
      </p>
      {waiting > 0 && (
        <p class="state pending">
          <span aria-hidden="true">… </span>
          {waiting === 1 ? c('queue.waiting.1') : c('queue.waiting.n', { n: waiting })}
        </p>
      )}
    </li>
  );
}

function JobsMapView({ jobs, here }: { jobs: Job[]; here: { lat: number; long: number } | null }) {
  const { lang, c } = useCrewT();
  const catalog = useStore(catalogStore);
  const bbox = catalog?.jurisdiction.bbox as BBox | undefined;
  const { element, map, failed } = useLazyMap(bbox, ({ createJobsMap }, el, bounds) =>
    createJobsMap(el, {
      bounds,
      onSelect: (id) => navigate(`/staff/jobs/${id}`),
    }),
  );
  useEffect(() => {
    map?.setJobs(
      jobs.map((job, index) => ({
        id: job.id,
        lat: job.latitude,
        lon: job.longitude,
        urgent: job.overdue || job.priority <= 2,
        label: c('queue.map.marker', {
          n: index + 1,
          name: categoryName(catalog, job.category.code, lang, job.category.name),
          priority: c(priorityKey(job.priority)) + (job.overdue ? `, ${c('overdue')}` : ''),
        }),
      })),
      here ? { lat: here.lat, lon: here.long } : null,
    );
  }, [map, jobs, here, lang]);
  return (
    <>
      <div ref={element} class="map jobs-map" role="region" aria-label={c('queue.map.label')} />
      {failed && <p class="notice">{c('queue.map.unavailable')}</p>}
    </>
  );
}

function QueueScreen({ session }: { session: StoredSession }) {
  const { lang, c, t } = useCrewT();
  const online = useStore(onlineStore);
  const items = useJobItems();
  const [queue, setQueue] = useState<QueueState>({ state: 'loading' });
  const [view, setView] = useState<'list' | 'map'>('list');
  const [whose, setWhose] = useState<Whose>('');
  const [here, setHere] = useState<{ lat: number; long: number } | null>(null);
  const me = session.user.id;

  async function load(): Promise<void> {
    const cache = (await getMeta<QueueCache | null>('queue').catch(() => null)) ?? null;
    if (cache && queue.state === 'loading') {
      setQueue({ state: 'ok', jobs: cache.jobs, at: cache.at, stale: true });
    }
    if (!navigator.onLine) {
      setQueue(cache ? { state: 'ok', jobs: cache.jobs, at: cache.at, stale: true } : { state: 'never' });
      return;
    }
    const position = await where();
    setHere(position);
    try {
      const result = await withToken((token) =>
        getQueue(token, { ...(position ?? {}), limit: 100 }),
      );
      if (!result.ok) {
        setQueue({ state: 'error', detail: problemText(c, t, result.problem), cache });
        return;
      }
      const fresh = { jobs: result.data.items, at: new Date().toISOString() };
      setQueue({ state: 'ok', ...fresh, stale: false });
      await setMeta('queue', fresh);
      await cacheJobs(fresh.jobs);
    } catch (error) {
      setQueue(
        cache
          ? { state: 'ok', jobs: cache.jobs, at: cache.at, stale: true }
          : { state: 'error', detail: error instanceof Error ? error.message : String(error), cache },
      );
    }
  }

  useEffect(() => {
    void load();
  }, [online]);

  // Changes sent meanwhile: the queue as the server has it now.
  const sentCount = useRef(items.length);
  useEffect(() => {
    if (items.length < sentCount.current && navigator.onLine) void load();
    sentCount.current = items.length;
  }, [items.length]);

  const all = queue.state === 'ok' ? queue.jobs : queue.state === 'error' ? (queue.cache?.jobs ?? []) : [];
  const jobs = all
    .map((job) => projectJob(job, items, me))
    .filter((job) =>
      whose === 'mine' ? job.assignee_id === me : whose === 'none' ? job.assignee_id == null : true,
    );
  const count =
    jobs.length === 0
      ? c('queue.count.0')
      : jobs.length === 1
        ? c('queue.count.1')
        : c('queue.count.n', { n: jobs.length });

  return (
    <section class="screen" aria-labelledby="queue-title">
      <CrewBar session={session} />
      <h1 id="queue-title" tabIndex={-1}>
        {c('queue.title')}
      </h1>
      <div class="queue-tools">
        <div role="group" aria-label={c('queue.view')} class="segmented">
          <button type="button" aria-pressed={view === 'list'} onClick={() => setView('list')}>
            <Icon d="M4 5h16v2H4V5Zm0 6h16v2H4v-2Zm0 6h16v2H4v-2Z" />
            {c('queue.view.list')}
          </button>
          <button type="button" aria-pressed={view === 'map'} onClick={() => setView('map')}>
            <Icon d="M9 3 3 5.5v15.5l6-2.5 6 2.5 6-2.5V3l-6 2.5L9 3Zm0 2.2 6 2.5v11.1l-6-2.5V5.2Z" />
            {c('queue.view.map')}
          </button>
        </div>
        <div class="whose">
          <label for="q-whose" class="inline-label">
            {c('queue.filter')}
          </label>
          <select
            id="q-whose"
            value={whose}
            onChange={(e) => setWhose((e.target as HTMLSelectElement).value as Whose)}
          >
            <option value="">{c('queue.filter.all')}</option>
            <option value="mine">{c('queue.filter.mine')}</option>
            <option value="none">{c('queue.filter.none')}</option>
          </select>
        </div>
      </div>
      <p id="queue-count" class="queue-status" role="status">
        {queue.state === 'loading' && t('common.loading')}
        {queue.state === 'never' && c('queue.never')}
        {queue.state === 'error' && c('queue.error', { detail: queue.detail })}
        {queue.state === 'ok' && (
          <>
            {count}{' '}
            <span class="muted">
              {c(queue.stale ? 'queue.stale' : 'queue.updated', {
                date: formatDateTime(lang, queue.at),
              })}
            </span>
          </>
        )}
      </p>
      {online && (
        <button type="button" class="secondary" onClick={() => void load()}>
          <span aria-hidden="true">↻ </span>
          {c('queue.refresh')}
        </button>
      )}
      {view === 'map' && <JobsMapView jobs={jobs} here={here} />}
      {jobs.length > 0 && (
        <ol class="cards jobs">
          {jobs.map((job, index) => (
            <JobCard
              key={job.id}
              job={job}
              n={index + 1}
              me={me}
              waiting={items.filter((i) => i.jobId === job.id).length}
            />
          ))}
        </ol>
      )}
    </section>
  );
}

// --- one job ---

function describeChange(c: CrewT, t: T, change: JobChange): string {
  switch (change.action) {
    case 'take':
      return c('pending.take');
    case 'release':
      return c('pending.release');
    case 'photo':
      return c('pending.photo');
    case 'status':
      return c('pending.status', {
        status: t(statusKey(change.change.status)),
        explanation: change.change.explanation,
      });
  }
}

function PendingChange({ item, me }: { item: JobItem; me: number }) {
  const { lang, c, t } = useCrewT();
  const conflict = conflictOf(item);
  const refused = item.state === 'rejected';
  return (
    <li class={`card pending state-${item.state}`}>
      <p>
        <strong>{describeChange(c, t, item.change)}</strong>
      </p>
      {item.photo && <PhotoThumb photo={item.photo} alt={c('change.photo.alt')} />}
      <p class={`state ${item.state}`}>
        <span aria-hidden="true">{refused ? '⚠ ' : '… '}</span>
        <strong>{refused ? c('pending.refused') : c('pending.waiting')}</strong>
        {item.attempts > 0 && !refused && (
          <span class="muted"> · {t('mine.state.attempts', { n: item.attempts })}</span>
        )}
      </p>
      {refused && item.problem && (
        <div class="problem">
          {conflict ? (
            <>
              <p>{c('pending.conflict')}</p>
              <p>
                {c('pending.conflict.now', {
                  status: t(statusKey(conflict.status)),
                  who: c(`assignee.${assignment(conflict.assignee_id, me)}`).toLocaleLowerCase(lang),
                  version: conflict.version,
                })}
              </p>
            </>
          ) : (
            <p>{problemText(c, t, item.problem)}</p>
          )}
        </div>
      )}
      <div class="actions">
        {conflict && (
          <button
            type="button"
            class="secondary"
            onClick={() => void retryOnVersion(item.key, conflict.version).then(() => flushNow())}
          >
            {c('pending.apply')}
          </button>
        )}
        {!conflict && (
          <button type="button" class="secondary" onClick={() => void resend(item.key)}>
            {c('pending.send')}
          </button>
        )}
        <button
          type="button"
          class="link"
          onClick={() => void discard(item.key).then(() => announce(c('pending.discarded')))}
        >
          {c('pending.discard')}
        </button>
      </div>
    </li>
  );
}

async function resend(key: string): Promise<void> {
  const item = await getOutboxItem(key);
  if (item && isJob(item) && item.state === 'rejected') await retryOnVersion(key, item.version);
  await flushNow();
}

type JobState =
  | { state: 'loading' }
  | { state: 'ok'; job: Job; stale: boolean }
  | { state: 'notfound' }
  | { state: 'unknown' };

function JobScreen({ id, session }: { id: number; session: StoredSession }) {
  const { lang, c, t } = useCrewT();
  const catalog = useStore(catalogStore);
  const online = useStore(onlineStore);
  const items = useJobItems().filter((i) => i.jobId === id);
  const [loaded, setLoaded] = useState<JobState>({ state: 'loading' });
  const me = session.user.id;

  async function load(): Promise<void> {
    const cached = await cachedJob(id).catch(() => undefined);
    try {
      if (!navigator.onLine) throw new Error('offline');
      const result = await withToken((token) => getJob(token, id));
      if (result.ok) {
        await cacheJobs([result.data]);
        setLoaded({ state: 'ok', job: result.data, stale: false });
        return;
      }
      if (result.status === 404 || result.status === 403) {
        setLoaded({ state: 'notfound' });
        return;
      }
      throw new Error(result.problem.detail);
    } catch {
      setLoaded(cached ? { state: 'ok', job: cached, stale: true } : { state: 'unknown' });
    }
  }

  useEffect(() => {
    void load();
  }, [id, online]);

  // A change sent (or refused with the job as it is now): show the newest known state.
  const outboxSize = items.length;
  const outboxStates = items.map((i) => i.state).join();
  useEffect(() => {
    if (loaded.state !== 'ok') return;
    void cachedJob(id).then((job) => {
      if (job && job.version > loaded.job.version) setLoaded({ state: 'ok', job, stale: loaded.stale });
    });
  }, [outboxSize, outboxStates]);

  const back = (
    <p>
      <a href="/staff" onClick={linkClick}>
        <span aria-hidden="true">← </span>
        {c('job.back')}
      </a>
    </p>
  );

  if (loaded.state !== 'ok') {
    return (
      <section class="screen" aria-labelledby="job-title">
        {back}
        <h1 id="job-title" tabIndex={-1}>
          {c('job.title', { id })}
        </h1>
        <p role="status">
          {loaded.state === 'loading'
            ? c('job.loading')
            : loaded.state === 'notfound'
              ? c('job.notfound')
              : c('job.unknown')}
        </p>
      </section>
    );
  }

  const server = loaded.job;
  const job = projectJob(server, items, me);
  const who = assignment(job.assignee_id, me);

  async function act(change: JobChange, photo: StoredPhoto | null = null): Promise<string> {
    const item = await enqueueJob(id, server.version, change, photo);
    return item.key;
  }

  /** Sends what was queued; says so when it has to wait for the connection. */
  async function deliver(keys: string[], done: string): Promise<void> {
    await flushNow();
    const left = await Promise.all(keys.map((k) => getOutboxItem(k)));
    if (left.every((i) => !i)) announce(done);
    else if (left.some((i) => i?.state === 'pending')) announce(c('job.saved'));
  }

  return (
    <section class="screen" aria-labelledby="job-title">
      <CrewBar session={session} />
      {back}
      <h1 id="job-title" tabIndex={-1}>
        {categoryName(catalog, job.category.code, lang, job.category.name)}
        <span class="muted"> · {c('job.title', { id })}</span>
      </h1>
      {loaded.stale && (
        <p class="notice">{c('job.stale', { date: formatDateTime(lang, server.updated_at) })}</p>
      )}
      <dl class="facts">
        <dt>{c('job.status')}</dt>
        <dd>
          <StatusBadge status={job.status} />
        </dd>
        <dt>{c('job.priority')}</dt>
        <dd class="tags">
          <PriorityTag priority={job.priority} />
          {job.overdue && <OverdueTag />}
        </dd>
        {job.due_at && (
          <>
            <dt>{c('job.due')}</dt>
            <dd>
              <time dateTime={job.due_at}>
                {formatDueDate(lang, job.due_at, catalog?.jurisdiction.time_zone)}
              </time>
            </dd>
          </>
        )}
        <dt>{c('job.who')}</dt>
        <dd>{c(`assignee.${who}`)}</dd>
        <dt>{c('job.place')}</dt>
        <dd>
          {job.address || `${formatCoordinate(job.latitude)}, ${formatCoordinate(job.longitude)}`}
        </dd>
        {job.service_area && (
          <>
            <dt>{c('job.area')}</dt>
            <dd>{job.service_area.name}</dd>
          </>
        )}
        <dt>{c('job.reported')}</dt>
        <dd>
          <DateTime iso={job.created_at} lang={lang} />
        </dd>
        <dt>{c('job.reports')}</dt>
        <dd>{countsText(c, job)}</dd>
      </dl>
      {job.description && (
        <>
          <h2>{c('job.description')}</h2>
          <p class="description">{job.description}</p>
        </>
      )}

      {items.length > 0 && (
        <section aria-labelledby="job-pending-title">
          <h2 id="job-pending-title">{c('pending.title', { n: items.length })}</h2>
          <ul class="cards">
            {items.map((item) => (
              <PendingChange key={item.key} item={item} me={me} />
            ))}
          </ul>
        </section>
      )}

      {!job.closed_at && (
        <div class="actions job-actions">
          {who !== 'me' ? (
            <button
              type="button"
              class="primary"
              onClick={() =>
                void act({ action: 'take' }).then((key) => deliver([key], c('job.taken')))
              }
            >
              {c('job.take')}
            </button>
          ) : (
            <button
              type="button"
              class="secondary"
              onClick={() =>
                void act({ action: 'release' }).then((key) => deliver([key], c('job.released')))
              }
            >
              {c('job.release')}
            </button>
          )}
        </div>
      )}

      <StatusForm
        job={job}
        onSubmit={async (status, explanation, note, photo) => {
          const keys = [
            await act({
              action: 'status',
              change: { status, explanation, internal_note: note || undefined },
            }),
          ];
          if (photo) keys.push(await act({ action: 'photo' }, photo));
          await deliver(keys, c('change.done', { status: t(statusKey(status)) }));
        }}
      />
    </section>
  );
}

function StatusForm({
  job,
  onSubmit,
}: {
  job: Job;
  onSubmit(status: ReportStatus, explanation: string, note: string, photo: StoredPhoto | null): Promise<void>;
}) {
  const { c, t } = useCrewT();
  const [status, setStatus] = useState<ReportStatus | ''>('');
  const [explanation, setExplanation] = useState('');
  const [note, setNote] = useState('');
  const [photo, setPhoto] = useState<StoredPhoto | null>(null);
  const [errors, setErrors] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const errorBox = useRef<HTMLDivElement>(null);
  const choices = nextStatuses(job.status);

  useEffect(() => {
    if (status && !choices.includes(status)) setStatus('');
  }, [job.status]);


  async function submit(event: Event): Promise<void> {
    event.preventDefault();
    if (busy) return;
    const missing: string[] = [];
    if (!status) missing.push(c('change.need.status'));
    if (explanation.trim().length < 3) missing.push(c('change.need.explanation'));
    setErrors(missing);
    if (missing.length || !status) {
      requestAnimationFrame(() => errorBox.current?.focus());
      return;
    }
    setBusy(true);
    try {
      await onSubmit(status, explanation.trim(), note.trim(), photo);
      setStatus('');
      setExplanation('');
      setNote('');
      setPhoto(null);
    } finally {
      setBusy(false);
    }
  }

  if (choices.length === 0) return <p class="muted">{c('change.none')}</p>;

  return (
    <form class="status-form" onSubmit={(e) => void submit(e)} noValidate aria-labelledby="change-title">
      <h2 id="change-title">{c('change.title')}</h2>
      {errors.length > 0 && (
        <div class="error-box" role="alert" tabIndex={-1} ref={errorBox}>
          <p>
            <strong>{c('change.errors')}</strong>
          </p>
          <ul>
            {errors.map((e) => (
              <li key={e}>{e}</li>
            ))}
          </ul>
        </div>
      )}
      <label for="c-status">{c('change.to')}</label>
      <select
        id="c-status"
        value={status}
        required
        onChange={(e) => setStatus((e.target as HTMLSelectElement).value as ReportStatus)}
      >
        <option value="">{c('change.choose')}</option>
        {choices.map((s) => (
          <option value={s} key={s}>
            {t(statusKey(s))}
          </option>
        ))}
      </select>
      <label for="c-explanation">{c('change.explanation')}</label>
      <textarea
        id="c-explanation"
        rows={3}
        maxLength={2000}
        required
        aria-describedby="c-explanation-hint"
        value={explanation}
        onInput={(e) => setExplanation((e.target as HTMLTextAreaElement).value)}
      />
      <p id="c-explanation-hint" class="hint">
        {c('change.explanation.hint')}
      </p>
      <label for="c-note">{c('change.note')}</label>
      <textarea
        id="c-note"
        rows={2}
        maxLength={4000}
        value={note}
        onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)}
      />
      <PhotoPicker
        legend={c('change.photo')}
        takeLabel={c('change.photo.take')}
        removeLabel={c('change.photo.remove')}
        alt={c('change.photo.alt')}
        photo={photo}
        onChange={setPhoto}
      />
      <button type="submit" class="primary" aria-disabled={busy ? 'true' : undefined}>
        {c('change.submit')}
      </button>
    </form>
  );
}

export function CrewRoot({ route }: { route: Route }) {
  const { session, ready } = useSession();
  const { t } = useCrewT();
  // The screen arrived after the route changed (loaded, signed in or out): the focus, left on
  // nothing when the previous screen went, moves to the new heading.
  useEffect(() => {
    const active = document.activeElement;
    if (!active || active === document.body || !document.contains(active)) {
      document.querySelector<HTMLElement>('main h1')?.focus();
    }
  }, [ready, session === null, route]);
  if (!ready) {
    return (
      <section class="screen">
        <h1 tabIndex={-1}>{t('staff.link.queue')}</h1>
        <p role="status">{t('common.loading')}</p>
      </section>
    );
  }
  if (!session) return <SignInScreen />;
  if (route.name === 'job') return <JobScreen id={route.id} session={session} />;
  return <QueueScreen session={session} />;
}
