// A problem's own page (`/incidents/{id}`): what the public knows of it, its due date, "me too"
// and following, and its whole public history — every report's, each change once, newest
// first — where a follower reads the crews' explanations. Offline, a followed problem is shown
// as last seen.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, getIncident, getIncidentHistory, type Incident, type ReportEvent } from '../api';
import { countsText } from '../candidates';
import { DateTime, DueText, StatusBadge, Timeline } from '../components';
import { formatCoordinate } from '../i18n';
import { listFollowed, listMine } from '../outbox';
import { linkClick } from '../router';
import { catalogStore, categoryName, useStore, useT } from '../state';
import { IncidentActions } from './IncidentActions';

type Loaded =
  | { state: 'loading' }
  | {
      state: 'ok';
      incident: Incident;
      events: ReportEvent[];
      cursor: string | null;
      /** Shown from this device's copy, checked then. */
      staleSince: string | null;
    }
  | { state: 'notfound' }
  | { state: 'error'; detail: string };

/** How many entries of the history each page shows. */
const PAGE = 20;

export function IncidentScreen({ id }: { id: number }) {
  const { lang, t } = useT();
  const catalog = useStore(catalogStore);
  const [loaded, setLoaded] = useState<Loaded>({ state: 'loading' });
  const [loadingMore, setLoadingMore] = useState(false);
  const [version, setVersion] = useState(0);
  /** One of its reports was sent from this device: its reporter does not say "me too". */
  const [reportedHere, setReportedHere] = useState(false);

  useEffect(() => {
    setLoaded({ state: 'loading' });
    listMine().then(
      (mine) => setReportedHere(mine.some((m) => m.report.incident_id === id)),
      () => {},
    );
  }, [id]);

  useEffect(() => {
    let cancelled = false;
    Promise.all([getIncident(id), getIncidentHistory(id, { limit: PAGE })])
      .then(([incident, history]) => {
        if (cancelled) return;
        setLoaded({
          state: 'ok',
          incident,
          events: history.items,
          cursor: history.next_cursor ?? null,
          staleSince: null,
        });
      })
      .catch(async (error: unknown) => {
        if (cancelled) return;
        if (error instanceof ApiError && error.status === 404) {
          setLoaded({ state: 'notfound' });
          return;
        }
        // Offline: a followed problem is kept on the device with its latest history.
        const kept = (await listFollowed().catch(() => [])).find((f) => f.incidentId === id);
        if (cancelled) return;
        setLoaded(
          kept?.incident
            ? {
                state: 'ok',
                incident: kept.incident,
                events: kept.events ?? [],
                cursor: null,
                staleSince: kept.checkedAt ?? kept.followedAt,
              }
            : { state: 'error', detail: error instanceof Error ? error.message : String(error) },
        );
      });
    return () => {
      cancelled = true;
    };
  }, [id, version]);

  async function showEarlier(): Promise<void> {
    if (loaded.state !== 'ok' || !loaded.cursor || loadingMore) return;
    setLoadingMore(true);
    try {
      const page = await getIncidentHistory(id, { limit: PAGE, cursor: loaded.cursor });
      setLoaded({
        ...loaded,
        events: [...loaded.events, ...page.items],
        cursor: page.next_cursor ?? null,
      });
    } catch {
      // Offline meanwhile: the button stays, to try again.
    } finally {
      setLoadingMore(false);
    }
  }

  const back = (
    <p>
      <a href="/mine" onClick={linkClick}>
        <span aria-hidden="true">← </span>
        {t('nav.mine')}
      </a>
    </p>
  );

  if (loaded.state !== 'ok') {
    return (
      <section class="screen" aria-labelledby="incident-title">
        <h1 id="incident-title" tabIndex={-1}>
          {t('incident.title', { id })}
        </h1>
        <p role="status">
          {loaded.state === 'loading'
            ? t('common.loading')
            : loaded.state === 'notfound'
              ? t('incident.notfound')
              : t('map.error', { detail: loaded.detail })}
        </p>
        {back}
      </section>
    );
  }

  const { incident, events, staleSince } = loaded;
  const merged = incident.merged_into;
  return (
    <section class="screen" aria-labelledby="incident-title">
      {back}
      <h1 id="incident-title" tabIndex={-1}>
        {categoryName(catalog, incident.category.code, lang, incident.category.name)}
        <span class="muted"> · {t('incident.title', { id: incident.id })}</span>
      </h1>
      {staleSince && (
        <p class="notice">
          {t('incident.stale', { date: '' })}
          <DateTime iso={staleSince} lang={lang} />
        </p>
      )}
      {merged && (
        <p class="notice">
          {t('incident.merged', { id: merged })}{' '}
          <a href={`/incidents/${merged}`} onClick={linkClick}>
            {t('incident.merged.link', { id: merged })}
          </a>
        </p>
      )}
      <dl class="facts">
        <dt>{t('report.detail.status')}</dt>
        <dd>
          <StatusBadge status={incident.status} />
        </dd>
        {incident.due_at && !incident.closed_at && (
          <>
            <dt>{t('due.label')}</dt>
            <dd>
              <DueText dueAt={incident.due_at} overdue={incident.overdue} />
            </dd>
          </>
        )}
        <dt>{t('report.detail.incident')}</dt>
        <dd>{countsText(t, incident)}</dd>
        <dt>{t('report.detail.created')}</dt>
        <dd>
          <DateTime iso={incident.created_at} lang={lang} />
        </dd>
        <dt>{t('report.detail.updated')}</dt>
        <dd>
          <DateTime iso={incident.updated_at} lang={lang} />
        </dd>
        <dt>{t('report.detail.address')}</dt>
        <dd>
          {incident.address ||
            `${formatCoordinate(incident.latitude)}, ${formatCoordinate(incident.longitude)}`}
        </dd>
      </dl>
      {incident.description && (
        <>
          <h2>{t('incident.description')}</h2>
          <p class="description">{incident.description}</p>
        </>
      )}
      {!merged && !staleSince && (
        <IncidentActions
          incident={incident}
          canSupport={!reportedHere}
          onChanged={() => setVersion((v) => v + 1)}
        />
      )}
      {/* A merged problem's reports and history moved to the one it joined. */}
      {!merged && (
        <Timeline
          events={events}
          headingLevel={2}
          newestFirst
          explanationLang={catalog?.jurisdiction.locale}
        />
      )}
      {loaded.cursor && (
        <button
          type="button"
          class="secondary wide"
          aria-disabled={loadingMore ? 'true' : undefined}
          onClick={() => void showEarlier()}
        >
          {t('incident.more')}
        </button>
      )}
    </section>
  );
}
