import { useEffect, useState } from 'preact/hooks';
import { listReportsInBBox, mapClusters, type BBox, type MapCluster, type Report } from '../api';
import { tilesStore } from '../config';
import { countKey } from '../i18n';
import { linkClick, navigate } from '../router';
import { ALL_STATUSES, statusKey, statusQuery, type StatusFilter } from '../status';
import {
  catalogStore,
  categoryName,
  useStore,
  useT,
} from '../state';
import { CategoryOptions, DateTime, StatusBadge } from '../components';
import { countsText } from '../candidates';
import { isKnown, onePerIncident } from '../incidents';
import { useLazyMap } from '../map/useLazyMap';
import type { MapView } from '../map/leaflet';

/** The newest reports listed under the map. */
const LIST_LIMIT = 20;
/** The zoom counted when there is no map (the whole city in a few cells). */
const NO_MAP_ZOOM = 10;

interface Loaded {
  /** Every report in view, counted by the server. */
  total: number;
  clusters: MapCluster[];
  /** The newest of them. */
  items: Report[];
}

/** Where the user is, if they already allowed it (no permission prompt on the first screen). */
async function knownPosition(): Promise<GeolocationPosition | null> {
  try {
    const permission = await navigator.permissions?.query({ name: 'geolocation' });
    if (permission?.state !== 'granted') return null;
  } catch {
    return null;
  }
  return currentPosition().catch(() => null);
}

function currentPosition(): Promise<GeolocationPosition> {
  return new Promise((resolve, reject) =>
    navigator.geolocation.getCurrentPosition(resolve, reject, {
      enableHighAccuracy: false,
      timeout: 10_000,
      maximumAge: 300_000,
    }),
  );
}

export function MapScreen() {
  const { lang, t } = useT();
  const catalog = useStore(catalogStore);
  const [category, setCategory] = useState('');
  const [status, setStatus] = useState<StatusFilter>('');
  const [view, setView] = useState<MapView | null>(null);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const jurisdictionBBox = catalog?.jurisdiction.bbox as BBox | undefined;

  // The map: created once the city's bounding box is known, destroyed with the screen.
  const { element: mapElement, map, failed: mapFailed } = useLazyMap(
    jurisdictionBBox,
    ({ createBrowseMap }, element, bounds) =>
      createBrowseMap(element, {
        bounds,
        onMove: setView,
        onSelect: (id) => navigate(`/reports/${id}`),
      }),
  );

  useEffect(() => {
    let cancelled = false;
    if (map) {
      void knownPosition().then((p) => {
        if (p && !cancelled) map.setView(p.coords.latitude, p.coords.longitude, 16);
      });
    }
    // Without the map the list still shows the whole city.
    if (mapFailed && jurisdictionBBox) setView({ bbox: jurisdictionBBox, zoom: NO_MAP_ZOOM });
    return () => {
      cancelled = true;
    };
  }, [map, mapFailed]);

  // The reports in view, reloaded (debounced, older requests cancelled) when view or filters
  // move: the server's clusters for the map and its count, one page of the newest for the list.
  useEffect(() => {
    if (!view) return;
    const controller = new AbortController();
    const filter = { category: category || undefined, status: statusQuery(status) };
    const timer = setTimeout(() => {
      setLoading(true);
      Promise.all([
        mapClusters(view.bbox, view.zoom, filter, controller.signal),
        listReportsInBBox(view.bbox, filter, LIST_LIMIT, controller.signal),
      ])
        .then(([counted, newest]) => {
          setLoaded({ total: counted.total, clusters: counted.clusters, items: newest.items });
          setError(null);
        })
        .catch((e: unknown) => {
          if (!controller.signal.aborted) setError(e instanceof Error ? e.message : String(e));
        })
        .finally(() => {
          if (!controller.signal.aborted) setLoading(false);
        });
    }, 250);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [view?.bbox.join(','), view?.zoom, category, status]);

  useEffect(() => {
    map?.setClusters(loaded?.clusters ?? [], {
      report: (id) => t('mine.report', { id }),
      single: () => t('map.single'),
      cluster: (n) => t('map.cluster', { n }),
    });
  }, [loaded, lang, map]);

  const activeFilters = (category ? 1 : 0) + (status ? 1 : 0);
  const items = loaded?.items ?? [];
  // A problem reported several times is one row, which says so.
  const problems = onePerIncident(items);
  const total = loaded?.total ?? 0;
  const tiles = useStore(tilesStore);

  return (
    <section class="screen map-screen" aria-labelledby="map-title">
      <h1 id="map-title" tabIndex={-1}>
        {t('map.title')}
      </h1>

      <div class="map-tools">
        <details class="filters">
          <summary>
            {activeFilters ? t('map.filters.active', { n: activeFilters }) : t('map.filters')}
          </summary>
          <div class="filter-fields">
            <label>
              {t('map.category')}
              <select
                value={category}
                onChange={(e) => setCategory((e.target as HTMLSelectElement).value)}
              >
                <option value="">{t('map.category.all')}</option>
                <CategoryOptions categories={catalog?.categories ?? []} />
              </select>
            </label>
            <label>
              {t('map.status')}
              <select
                value={status}
                onChange={(e) => setStatus((e.target as HTMLSelectElement).value as StatusFilter)}
              >
                <option value="">{t('map.status.all')}</option>
                <option value="open">{t('map.status.open')}</option>
                <option value="closed">{t('map.status.closed')}</option>
                {ALL_STATUSES.map((s) => (
                  <option value={s} key={s}>
                    {t(statusKey(s))}
                  </option>
                ))}
              </select>
            </label>
          </div>
        </details>
        <button
          type="button"
          class="locate"
          onClick={() =>
            void currentPosition().then(
              (p) => map?.setView(p.coords.latitude, p.coords.longitude, 16),
              () => {},
            )
          }
        >
          <span aria-hidden="true">◎</span>
          {t('map.locate')}
        </button>
      </div>
      <div class="map-wrap">
        <div
          ref={mapElement}
          class="map"
          role="region"
          aria-label={t('map.region')}
          aria-describedby="map-count"
        />
      </div>
      {mapFailed && <p class="notice">{t('map.unavailable')}</p>}
      {tiles && !tiles.url && !mapFailed && <p class="hint">{t('map.nobasemap')}</p>}

      <p id="map-count" class="count" role="status">
        {loading && !loaded
          ? t('map.loading')
          : error
            ? t('map.error', { detail: error })
            : loaded
              ? t(countKey('map.count', loaded.total), { n: loaded.total })
              : t('map.loading')}
      </p>

      {items.length > 0 && (
        <section aria-labelledby="list-title">
          <h2 id="list-title">{t('map.list')}</h2>
          <ul class="report-list">
            {problems.map((r) => (
              <li key={r.id}>
                <a href={`/reports/${r.id}`} onClick={linkClick}>
                  <strong>{categoryName(catalog, r.category.code, lang, r.category.name)}</strong>
                  <span class="muted"> · {t('mine.report', { id: r.id })}</span>
                </a>
                <div class="meta">
                  <StatusBadge status={r.status} /> <DateTime iso={r.created_at} lang={lang} />
                </div>
                {isKnown(r.incident) && (
                  <div class="known">{t('map.known', { counts: countsText(t, r.incident) })}</div>
                )}
                {r.address && <div class="muted">{r.address}</div>}
              </li>
            ))}
          </ul>
          {total > items.length && (
            <p class="muted">{t('map.list.more', { n: total - items.length })}</p>
          )}
        </section>
      )}
    </section>
  );
}
