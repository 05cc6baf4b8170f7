import { useEffect, useState } from 'preact/hooks';
import { getReport, getReportEvents } from '../api';
import { formatCoordinate } from '../i18n';
import {
  discard,
  isFollow,
  isJob,
  isSupport,
  listFollowed,
  listMine,
  listOutbox,
  onOutboxChange,
  sendOne,
  updateMine,
  type Followed,
  type MyReport,
  type OutboxItem,
} from '../outbox';
import { linkClick, navigate } from '../router';
import {
  announce,
  catalogStore,
  categoryName,
  draftStore,
  onlineStore,
  useStore,
  useT,
} from '../state';
import { announceResults, requestBackgroundSync } from '../sync';
import { DateTime, DueText, PhotoThumb, ProblemText, StatusBadge, Timeline } from '../components';
import { countsText } from '../candidates';
import { changeFollowing, refreshFollows } from '../follows';

type ResidentItem = Exclude<OutboxItem, { kind: 'job' }>;

/** How many of my reports are refreshed from the server each time the screen opens. */
const REFRESH_LIMIT = 20;

async function refreshMine(entries: readonly MyReport[]): Promise<void> {
  await Promise.all(
    entries.slice(0, REFRESH_LIMIT).map(async (entry) => {
      try {
        const [report, events] = await Promise.all([
          getReport(entry.id),
          getReportEvents(entry.id),
        ]);
        await updateMine(entry.id, report, events);
      } catch {
        // Offline or gone: the last state seen stays on screen with its date.
      }
    }),
  );
}

/** The server's list of what this device follows, and their latest news; offline, what was
 *  seen last stays. */
const refreshFollowed = () => refreshFollows().catch(() => {});

function FollowedItem({ entry }: { entry: Followed }) {
  const { lang, t } = useT();
  const catalog = useStore(catalogStore);
  const incident = entry.incident;
  const merged = incident?.merged_into;
  const page = `/incidents/${merged ?? entry.incidentId}`;
  return (
    <li class="card followed">
      <h3 id={`followed-${entry.incidentId}`}>
        <a href={`/incidents/${entry.incidentId}`} onClick={linkClick}>
          {incident
            ? categoryName(catalog, incident.category.code, lang, incident.category.name)
            : t('mine.incident', { id: entry.incidentId })}
          {incident && <span class="muted"> · {t('mine.incident', { id: entry.incidentId })}</span>}
        </a>
      </h3>
      {incident && (
        <>
          <p class="meta">
            <StatusBadge status={incident.status} /> {countsText(t, incident)}
          </p>
          {incident.due_at && !incident.closed_at && (
            <p class="meta">
              <DueText dueAt={incident.due_at} overdue={incident.overdue} />
            </p>
          )}
          {merged && <p class="notice">{t('incident.merged', { id: merged })}</p>}
          {incident.address && <p class="address">{incident.address}</p>}
          {incident.description && <p class="description clamp">{incident.description}</p>}
          <p class="muted small">
            {t('report.detail.created')}
            {t('common.colon')}
            <DateTime iso={incident.created_at} lang={lang} />
            {' · '}
            {t('report.detail.updated')}
            {t('common.colon')}
            <DateTime iso={incident.updated_at} lang={lang} />
          </p>
        </>
      )}
      {entry.events && entry.events.length > 0 && (
        <Timeline
          events={entry.events}
          newestFirst
          explanationLang={catalog?.jurisdiction.locale}
        />
      )}
      <div class="actions">
        {(entry.moreEvents || merged) && (
          <a href={page} onClick={linkClick} class="secondary">
            {t('mine.incident.open')}
          </a>
        )}
        <button
          type="button"
          class="link"
          aria-describedby={`followed-${entry.incidentId}`}
          onClick={() => void changeFollowing(entry.incidentId, false, incident)}
        >
          {t('follow.stop')}
        </button>
      </div>
    </li>
  );
}

function PendingItem({
  item,
  sending,
  onSend,
}: {
  item: ResidentItem;
  sending: boolean;
  onSend(): void;
}) {
  const { lang, t } = useT();
  const catalog = useStore(catalogStore);
  const [confirming, setConfirming] = useState(false);
  const headingId = `pending-${item.key}`;
  const report = isSupport(item) || isFollow(item) ? null : item;
  return (
    <li class={`card pending state-${item.state}`}>
      <h3 id={headingId}>
        {report
          ? categoryName(catalog, report.body.category, lang)
          : isFollow(item)
            ? t(item.follow ? 'mine.follow.pending' : 'mine.unfollow.pending', { id: item.incidentId })
            : t('mine.support.pending', { id: isSupport(item) ? item.incidentId : '' })}
      </h3>
      <p class="meta">
        {t('mine.saved.at', { date: '' })}
        <DateTime iso={item.createdAt} lang={lang} />
        {report && ' · '}
        {report &&
          (report.body.address ||
            `${formatCoordinate(report.body.latitude)}, ${formatCoordinate(report.body.longitude)}`)}
      </p>
      {report?.body.description && <p class="description">{report.body.description}</p>}
      {item.photo && (
        <div class="photo-row">
          <PhotoThumb photo={item.photo} alt={t('report.photo.alt')} />
          <span class="hint">{t('mine.photo.waiting')}</span>
        </div>
      )}
      <p class={`state ${item.state}`}>
        <span aria-hidden="true">{item.state === 'rejected' ? '⚠ ' : '… '}</span>
        <strong>
          {sending
            ? t('mine.state.sending')
            : item.state === 'rejected'
              ? t('mine.state.rejected')
              : t('mine.state.pending')}
        </strong>
        {item.attempts > 0 && (
          <span class="muted"> · {t('mine.state.attempts', { n: item.attempts })}</span>
        )}
      </p>
      {item.state === 'rejected' && item.problem && <ProblemText problem={item.problem} />}
      <div class="actions">
        <button type="button" class="secondary" onClick={onSend} aria-disabled={sending || undefined}>
          {t('mine.send')}
        </button>
        {item.state === 'rejected' && report && (
          <button
            type="button"
            class="secondary"
            onClick={() => {
              draftStore.set({ body: report.body, photo: report.photo, replaces: item.key });
              navigate('/report');
            }}
          >
            {t('mine.edit')}
          </button>
        )}
        {confirming ? (
          <button
            type="button"
            class="danger"
            onClick={() =>
              void discard(item.key).then(() => announce(t('mine.discarded')))
            }
          >
            {t('mine.discard.confirm')}
          </button>
        ) : (
          <button type="button" class="link" onClick={() => setConfirming(true)}>
            {t('mine.discard')}
          </button>
        )}
      </div>
    </li>
  );
}

function SentItem({ entry }: { entry: MyReport }) {
  const { lang, t } = useT();
  const catalog = useStore(catalogStore);
  const report = entry.report;
  const headingId = `mine-${entry.id}`;
  return (
    <li class="card">
      <h3 id={headingId}>
        <a href={`/reports/${entry.id}`} onClick={linkClick}>
          {categoryName(catalog, report.category.code, lang, report.category.name)}
          <span class="muted"> · {t('mine.report', { id: entry.id })}</span>
        </a>
      </h3>
      <p class="meta">
        <StatusBadge status={report.status} />
      </p>
      {/* Reports kept on this device by an older version have no due date. */}
      {report.due_at && !report.closed_at && (
        <p class="meta">
          <DueText dueAt={report.due_at} overdue={report.overdue} />
        </p>
      )}
      {report.description && <p class="description">{report.description}</p>}
      {entry.photo && (
        <div class="photo-row">
          <PhotoThumb photo={entry.photo} alt={t('mine.photo.sent.alt')} />
          <span class="hint">{t(entry.photoSent ? 'mine.photo.sent' : 'mine.photo.local')}</span>
        </div>
      )}
      {entry.events && (
        <Timeline events={entry.events} explanationLang={catalog?.jurisdiction.locale} />
      )}
      {entry.checkedAt && (
        <p class="muted small">
          {t('mine.checked.at', { date: '' })}
          <DateTime iso={entry.checkedAt} lang={lang} />
        </p>
      )}
    </li>
  );
}

export function MineScreen() {
  const { t } = useT();
  const online = useStore(onlineStore);
  const [pending, setPending] = useState<ResidentItem[] | null>(null);
  const [mine, setMine] = useState<MyReport[] | null>(null);
  const [followed, setFollowed] = useState<Followed[] | null>(null);
  const [sending, setSending] = useState<ReadonlySet<string>>(new Set());

  async function load(): Promise<MyReport[]> {
    const [outbox, sent, follows] = await Promise.all([listOutbox(), listMine(), listFollowed()]);
    // A crew's changes to jobs are shown on the crew's screens.
    setPending(outbox.filter((i): i is ResidentItem => !isJob(i)));
    setMine(sent);
    setFollowed(follows);
    return sent;
  }

  useEffect(() => {
    const reload = () =>
      void load().then(async (sent) => {
        // Reports just sent have no history yet: fetch it.
        const fresh = sent.filter((e) => e.events === null);
        if (fresh.length && navigator.onLine) {
          await refreshMine(fresh);
          await load();
        }
      });
    reload();
    return onOutboxChange(reload);
  }, []);

  useEffect(() => {
    if (!online) return;
    void Promise.all([listMine().then(refreshMine), refreshFollowed()]).then(load);
  }, [online]);

  async function sendNow(key: string): Promise<void> {
    if (sending.has(key)) return;
    setSending((s) => new Set(s).add(key));
    try {
      const result = await sendOne(key);
      announceResults([result]);
      if (result.verdict === 'retry') {
        announce(t('outbox.saved'));
        void requestBackgroundSync();
      }
    } finally {
      setSending((s) => {
        const next = new Set(s);
        next.delete(key);
        return next;
      });
    }
  }

  return (
    <section class="screen" aria-labelledby="mine-title">
      <h1 id="mine-title" tabIndex={-1}>
        {t('mine.title')}
      </h1>
      {/* Only while something waits (the tab's badge counts them): an empty section would push
          the reports down on a phone. */}
      {pending && pending.length > 0 && (
        <section aria-labelledby="pending-title">
          <h2 id="pending-title">{t('mine.pending', { n: pending.length })}</h2>
          <ul class="cards">
            {pending.map((item) => (
              <PendingItem
                key={item.key}
                item={item}
                sending={sending.has(item.key)}
                onSend={() => void sendNow(item.key)}
              />
            ))}
          </ul>
        </section>
      )}
      <section aria-labelledby="sent-title">
        <h2 id="sent-title">{t('mine.sent', { n: mine?.length ?? 0 })}</h2>
        {mine && mine.length === 0 && <p class="muted">{t('mine.sent.none')}</p>}
        {mine && mine.length > 0 && (
          <ul class="cards">
            {mine.map((entry) => (
              <SentItem key={entry.id} entry={entry} />
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="followed-title">
        <h2 id="followed-title">{t('mine.followed', { n: followed?.length ?? 0 })}</h2>
        {followed && followed.length === 0 && <p class="muted">{t('mine.followed.none')}</p>}
        {followed && followed.length > 0 && (
          <ul class="cards">
            {followed.map((entry) => (
              <FollowedItem key={entry.incidentId} entry={entry} />
            ))}
          </ul>
        )}
      </section>
    </section>
  );
}
