import { useEffect, useState } from 'preact/hooks';
import {
  ApiError,
  getIncident,
  getReport,
  getReportEvents,
  listReportPhotos,
  type Incident,
  type Photo,
  type Report,
  type ReportEvent,
} from '../api';
import { formatCoordinate } from '../i18n';
import { listMine } from '../outbox';
import { linkClick } from '../router';
import { catalogStore, categoryName, useStore, useT } from '../state';
import { DateTime, DueText, PhotoList, StatusBadge, Timeline } from '../components';
import { countsText } from '../candidates';
import { isKnown } from '../incidents';
import { IncidentActions } from './IncidentActions';

type Loaded =
  | { state: 'loading' }
  | { state: 'ok'; report: Report; events: ReportEvent[] | null; stale: boolean }
  | { state: 'notfound' }
  | { state: 'error'; detail: string };

export function DetailScreen({ id }: { id: number }) {
  const { lang, t } = useT();
  const catalog = useStore(catalogStore);
  const [loaded, setLoaded] = useState<Loaded>({ state: 'loading' });
  const [photos, setPhotos] = useState<Photo[]>([]);
  /** Its incident, for "me too" and following (not shown offline). */
  const [incident, setIncident] = useState<Incident | null>(null);
  /** Sent from this device: its reporter does not say "me too" to it. */
  const [mine, setMine] = useState(false);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    setLoaded({ state: 'loading' });
    setPhotos([]);
    setIncident(null);
    listMine().then(
      (list) => setMine(list.some((e) => e.id === id)),
      () => {},
    );
  }, [id]);

  useEffect(() => {
    let cancelled = false;
    listReportPhotos(id).then(
      (list) => !cancelled && setPhotos(list),
      () => {},
    );
    Promise.all([getReport(id), getReportEvents(id)])
      .then(([report, events]) => {
        if (cancelled) return;
        setLoaded({ state: 'ok', report, events, stale: false });
        getIncident(report.incident_id).then(
          (found) => !cancelled && setIncident(found),
          () => {},
        );
      })
      .catch(async (error: unknown) => {
        if (cancelled) return;
        if (error instanceof ApiError && error.status === 404) {
          setLoaded({ state: 'notfound' });
          return;
        }
        // Offline: one of my reports can still be shown as last seen.
        const mine = (await listMine().catch(() => [])).find((e) => e.id === id);
        if (cancelled) return;
        setLoaded(
          mine
            ? { state: 'ok', report: mine.report, events: mine.events, stale: true }
            : { state: 'error', detail: error instanceof Error ? error.message : String(error) },
        );
      });
    return () => {
      cancelled = true;
    };
  }, [id, version]);

  const back = (
    <p>
      <a href="/" onClick={linkClick}>
        <span aria-hidden="true">← </span>
        {t('report.detail.back')}
      </a>
    </p>
  );

  if (loaded.state !== 'ok') {
    return (
      <section class="screen" aria-labelledby="detail-title">
        <h1 id="detail-title" tabIndex={-1}>
          {t('report.detail.title', { id })}
        </h1>
        <p role="status">
          {loaded.state === 'loading'
            ? t('common.loading')
            : loaded.state === 'notfound'
              ? t('report.detail.notfound')
              : t('map.error', { detail: loaded.detail })}
        </p>
        {back}
      </section>
    );
  }

  const { report, events } = loaded;
  return (
    <section class="screen" aria-labelledby="detail-title">
      {back}
      <h1 id="detail-title" tabIndex={-1}>
        {categoryName(catalog, report.category.code, lang, report.category.name)}
        <span class="muted"> · {t('report.detail.title', { id: report.id })}</span>
      </h1>
      <dl class="facts">
        <dt>{t('report.detail.status')}</dt>
        <dd>
          <StatusBadge status={report.status} />
        </dd>
        {/* Reports kept on this device by an older version have no counts. */}
        {report.incident && (
          <>
            <dt>{t('report.detail.incident')}</dt>
            <dd>
              {isKnown(report.incident)
                ? countsText(t, report.incident)
                : t('report.detail.incident.alone')}
            </dd>
          </>
        )}
        {report.due_at && !report.closed_at && (
          <>
            <dt>{t('due.label')}</dt>
            <dd>
              <DueText dueAt={report.due_at} overdue={report.overdue} />
            </dd>
          </>
        )}
        <dt>{t('report.detail.created')}</dt>
        <dd>
          <DateTime iso={report.created_at} lang={lang} />
        </dd>
        <dt>{t('report.detail.updated')}</dt>
        <dd>
          <DateTime iso={report.updated_at} lang={lang} />
        </dd>
        <dt>{t('report.detail.address')}</dt>
        <dd>
          {report.address ||
            `${formatCoordinate(report.latitude)}, ${formatCoordinate(report.longitude)}`}
        </dd>
        {report.service_area && (
          <>
            <dt>{t('report.detail.area')}</dt>
            <dd>{report.service_area.name}</dd>
          </>
        )}
        {report.department && (
          <>
            <dt>{t('report.detail.department')}</dt>
            <dd>{report.department.name}</dd>
          </>
        )}
      </dl>
      {report.description && (
        <>
          <h2>{t('report.detail.description')}</h2>
          <p class="description">{report.description}</p>
        </>
      )}
      {photos.length > 0 && <PhotoList photos={photos} />}

      {events && (
        <Timeline events={events} headingLevel={2} explanationLang={catalog?.jurisdiction.locale} />
      )}
      {incident && (
        <IncidentActions
          incident={incident}
          canSupport={!mine}
          onChanged={() => setVersion((v) => v + 1)}
        />
      )}
      <p>
        <a href={`/incidents/${report.incident_id}`} onClick={linkClick}>
          {t('incident.page')}
        </a>
      </p>
    </section>
  );
}
