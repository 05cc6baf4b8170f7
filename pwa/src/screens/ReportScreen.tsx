import { useEffect, useRef, useState } from 'preact/hooks';
import {
  ApiError,
  getRouting,
  listDuplicates,
  type BBox,
  type CreateReport,
  type DuplicateCandidate,
  type Problem,
  type RoutingPreview,
} from '../api';
import { formatDistance, routingText } from '../candidates';
import { deviceId } from '../device';
import { parseCoordinates } from '../geo';
import { formatCoordinate, type MessageKey } from '../i18n';
import { discard, enqueue, enqueueSupport, sendOne, type StoredPhoto } from '../outbox';
import { navigate } from '../router';
import {
  announce,
  catalogErrorStore,
  catalogStore,
  categoryName,
  draftStore,
  groupCategories,
  onlineStore,
  useStore,
  useT,
} from '../state';
import { announceResults, requestBackgroundSync } from '../sync';
import { AddressField } from './AddressField';
import { Candidates } from './Candidates';
import { changeFollowing, useFollowedIds } from '../follows';
import { CategoryOptions, PhotoPicker, ProblemText, TextField } from '../components';
import { useLazyMap } from '../map/useLazyMap';

type Source = 'gps' | 'map' | 'typed' | 'address';

interface Position {
  lat: number;
  lon: number;
  accuracy: number | null;
  source: Source;
}

type GpsState =
  | { state: 'idle' }
  | { state: 'locating' }
  | { state: 'error'; reason: MessageKey };

type RouteState =
  | { state: 'none' }
  | { state: 'ok'; routing: RoutingPreview }
  | { state: 'outside' };

/** How long the position and category must stay still before the server is asked. */
const ASK_DELAY_MS = 400;

const FIELD_IDS: Record<string, string> = {
  category: 'f-category',
  latitude: 'f-coords',
  longitude: 'f-coords',
  address: 'f-address',
  description: 'f-description',
  contact_email: 'f-email',
};

export function ReportScreen() {
  const { lang, t } = useT();
  const catalog = useStore(catalogStore);
  const catalogError = useStore(catalogErrorStore);
  const [draft] = useState(() => {
    const d = draftStore.get();
    draftStore.set(null);
    return d;
  });
  const [position, setPosition] = useState<Position | null>(() =>
    draft
      ? {
          lat: draft.body.latitude,
          lon: draft.body.longitude,
          accuracy: draft.body.location_accuracy_m ?? null,
          source: 'typed',
        }
      : null,
  );
  const [gps, setGps] = useState<GpsState>({ state: 'idle' });
  const [coordsText, setCoordsText] = useState('');
  const [coordsError, setCoordsError] = useState(false);
  const [category, setCategory] = useState(draft?.body.category ?? '');
  const [address, setAddress] = useState(draft?.body.address ?? '');
  const [description, setDescription] = useState(draft?.body.description ?? '');
  const [email, setEmail] = useState(draft?.body.contact_email ?? '');
  const [photo, setPhoto] = useState<StoredPhoto | null>(draft?.photo ?? null);
  const [errors, setErrors] = useState<string[]>([]);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [submitting, setSubmitting] = useState(false);
  const errorBox = useRef<HTMLDivElement>(null);
  const online = useStore(onlineStore);
  const [route, setRoute] = useState<RouteState>({ state: 'none' });
  const [candidates, setCandidates] = useState<DuplicateCandidate[]>([]);
  const [different, setDifferent] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [supporting, setSupporting] = useState<number | null>(null);
  const candidatesHeading = useRef<HTMLHeadingElement>(null);
  const followedIds = useFollowedIds();
  const typed = useRef({ address, description });
  typed.current = { address, description };
  const bbox = catalog?.jurisdiction.bbox as BBox | undefined;

  /** `automatic`: asked when the form opens, it does not move a position placed otherwise. */
  function locate(automatic = false): void {
    if (!('geolocation' in navigator)) {
      setGps({ state: 'error', reason: 'report.gps.unsupported' });
      return;
    }
    setGps({ state: 'locating' });
    navigator.geolocation.getCurrentPosition(
      (p) => {
        setGps({ state: 'idle' });
        const fix: Position = {
          lat: p.coords.latitude,
          lon: p.coords.longitude,
          accuracy: Math.round(p.coords.accuracy),
          source: 'gps',
        };
        // A slow first fix must not undo an address chosen or a tap made meanwhile.
        setPosition((placed) => (automatic && placed && placed.source !== 'gps' ? placed : fix));
      },
      (e) =>
        setGps({
          state: 'error',
          reason: e.code === e.PERMISSION_DENIED ? 'report.gps.denied' : 'report.gps.timeout',
        }),
      { enableHighAccuracy: true, timeout: 15_000, maximumAge: 30_000 },
    );
  }

  // The fewest taps: ask for the position as soon as the form opens.
  useEffect(() => {
    if (!draft) locate(true);
  }, []);

  const { element: mapElement, map: picker } = useLazyMap(bbox, ({ createPickerMap }, element, bounds) =>
    createPickerMap(element, {
      bounds,
      markerLabel: t('report.map.hint'),
      onPick: (lat, lon) => setPosition({ lat, lon, accuracy: null, source: 'map' }),
    }),
  );

  // Positions that did not come from the map are shown on it.
  useEffect(() => {
    if (position && position.source !== 'map') {
      picker?.setPosition(position.lat, position.lon, position.accuracy, true);
    }
  }, [position, picker]);

  // Once there is a position and a category: who handles it, and is it already reported?
  useEffect(() => {
    setRoute({ state: 'none' });
    setCandidates([]);
    setDifferent(false);
    setConfirming(false);
    if (!position || !category || !online) return;
    const controller = new AbortController();
    const timer = setTimeout(() => {
      const lat = Number(position.lat.toFixed(7));
      const long = Number(position.lon.toFixed(7));
      const { signal } = controller;
      getRouting(lat, long, category, signal).then(
        (routing) => setRoute({ state: 'ok', routing }),
        (error: unknown) => {
          if (error instanceof ApiError && error.problem.code === 'outside_jurisdiction') {
            setRoute({ state: 'outside' });
          }
        },
      );
      listDuplicates(
        {
          lat,
          long,
          category,
          description: typed.current.description.trim() || undefined,
          address: typed.current.address.trim() || undefined,
        },
        signal,
      ).then(setCandidates, () => {});
    }, ASK_DELAY_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [position?.lat, position?.lon, category, online]);

  // The candidates on the mini map, numbered as in the list.
  useEffect(() => {
    picker?.setCandidates(
      different
        ? []
        : candidates.map((c) => ({
            id: c.incident_id,
            lat: c.latitude,
            lon: c.longitude,
            label: t('dup.map', {
              name: categoryName(catalog, c.category.code, lang, c.category.name),
              distance: formatDistance(t, lang, c.distance_m),
            }),
          })),
    );
  }, [candidates, different, picker, lang]);

  async function meToo(candidate: DuplicateCandidate): Promise<void> {
    if (supporting !== null) return;
    setSupporting(candidate.incident_id);
    setProblem(null);
    try {
      // Through the outbox, as reports go: a "me too" made offline is sent later.
      const item = await enqueueSupport(candidate.incident_id, {
        device_id: deviceId(),
        notify_email: email.trim() || undefined,
      });
      await deliver(item.key, 'dup.saved');
    } finally {
      setSupporting(null);
    }
  }

  /** Sends what was just queued; refused, it is fixed here rather than in the outbox. */
  async function deliver(key: string, saved: MessageKey): Promise<void> {
    if (draft) await discard(draft.replaces);
    const result = await sendOne(key);
    if (result.verdict === 'rejected') {
      // The corrected report gets a new key.
      await discard(key);
      setProblem(result.problem ?? null);
      requestAnimationFrame(() => errorBox.current?.focus());
      return;
    }
    if (result.verdict === 'sent') announceResults([result]);
    else {
      announce(t(saved));
      void requestBackgroundSync();
    }
    navigate('/mine');
  }

  function chooseDifferent(): void {
    setDifferent(true);
    if (confirming) {
      setConfirming(false);
      void send(true);
    }
  }

  function applyCoordinates(): void {
    const parsed = parseCoordinates(coordsText);
    setCoordsError(!parsed);
    if (parsed) setPosition({ ...parsed, accuracy: null, source: 'typed' });
  }


  async function submit(event: Event): Promise<void> {
    event.preventDefault();
    await send(different);
  }

  async function send(skipCandidates: boolean): Promise<void> {
    if (submitting || supporting !== null) return;
    const missing: string[] = [];
    if (!category) missing.push(t('report.need.category'));
    if (!position) missing.push(t('report.need.position'));
    if (route.state === 'outside') missing.push(t('route.outside'));
    setErrors(missing);
    setProblem(null);
    if (missing.length) {
      requestAnimationFrame(() => errorBox.current?.focus());
      return;
    }
    // Known already? The resident answers before a second report is made.
    if (candidates.length > 0 && !skipCandidates) {
      setConfirming(true);
      requestAnimationFrame(() => candidatesHeading.current?.focus());
      return;
    }
    const body: CreateReport = {
      category,
      latitude: Number(position!.lat.toFixed(7)),
      longitude: Number(position!.lon.toFixed(7)),
      location_accuracy_m: position!.accuracy ?? undefined,
      address: address.trim() || undefined,
      description: description.trim() || undefined,
      contact_email: email.trim() || undefined,
      source: 'pwa',
      // Lets this device reopen its report later (stored by the server as a hash).
      device_id: deviceId(),
    };
    setSubmitting(true);
    try {
      // First on the device, then to the server: nothing typed is lost if the network fails.
      const item = await enqueue(body, photo);
      await deliver(item.key, 'outbox.saved');
    } finally {
      setSubmitting(false);
    }
  }

  const invalidFields = new Set((problem?.errors ?? []).map((e) => FIELD_IDS[e.field]));
  const groups = groupCategories(catalog?.categories ?? []);
  const selected = catalog?.categories.find((c) => c.code === category);

  return (
    <section class="screen" aria-labelledby="report-title">
      <h1 id="report-title" tabIndex={-1}>
        {t('report.title')}
      </h1>
      <form onSubmit={(e) => void submit(e)} noValidate>
        {(errors.length > 0 || problem) && (
          <div class="error-box" role="alert" tabIndex={-1} ref={errorBox}>
            <p>
              <strong>{t('report.errors')}</strong>
            </p>
            {errors.length > 0 && (
              <ul>
                {errors.map((e) => (
                  <li key={e}>{e}</li>
                ))}
              </ul>
            )}
            {problem && <ProblemText problem={problem} />}
          </div>
        )}

        <fieldset>
          <legend>{t('report.where')}</legend>
          <p class="position" role="status">
            {gps.state === 'locating'
              ? t('report.gps.locating')
              : position
                ? `${t('report.position', {
                    lat: formatCoordinate(position.lat),
                    lon: formatCoordinate(position.lon),
                  })} — ${
                    position.source === 'gps' && position.accuracy !== null
                      ? t('report.position.from.gps', { m: position.accuracy })
                      : t(`report.position.from.${position.source}`)
                  }`
                : t('report.position.none')}
            {gps.state === 'error' && (
              <span class="warn">
                {' '}
                {t('report.gps.error', { reason: t(gps.reason) })}
              </span>
            )}
          </p>
          <button type="button" class="secondary" onClick={() => locate()}>
            <span aria-hidden="true">◎</span>
            {t('report.gps')}
          </button>
          <AddressField
            value={address}
            onValue={setAddress}
            onChoose={(found) =>
              setPosition({
                lat: found.latitude,
                lon: found.longitude,
                accuracy: null,
                source: 'address',
              })
            }
            jurisdiction={catalog?.jurisdiction.slug}
            invalid={invalidFields.has('f-address')}
          />
          <div
            ref={mapElement}
            class="map picker"
            role="region"
            aria-label={t('report.map.label')}
          />
          <p class="hint">{t('report.map.hint')}</p>
          <label for="f-coords">{t('report.coords')}</label>
          <div class="inline">
            <input
              id="f-coords"
              type="text"
              inputMode="decimal"
              autoComplete="off"
              value={coordsText}
              aria-describedby="f-coords-hint"
              aria-invalid={coordsError || invalidFields.has('f-coords') ? 'true' : undefined}
              onInput={(e) => setCoordsText((e.target as HTMLInputElement).value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter') {
                  e.preventDefault();
                  applyCoordinates();
                }
              }}
            />
            <button type="button" class="secondary" onClick={applyCoordinates}>
              {t('report.coords.apply')}
            </button>
          </div>
          <p id="f-coords-hint" class={coordsError ? 'hint warn' : 'hint'}>
            {coordsError ? t('report.coords.invalid') : t('report.coords.hint')}
          </p>
        </fieldset>

        {groups.length === 0 ? (
          <p class="notice">
            <strong>{t('report.category')}</strong>{' '}
            {catalogError ? t('report.category.unavailable') : t('report.category.loading')}
          </p>
        ) : (
          <label for="f-category">{t('report.category')}</label>
        )}
        {groups.length > 0 && (
          <select
            id="f-category"
            value={category}
            required
            aria-describedby={selected ? 'f-category-desc' : undefined}
            aria-invalid={invalidFields.has('f-category') ? 'true' : undefined}
            onChange={(e) => setCategory((e.target as HTMLSelectElement).value)}
          >
            <option value="">{t('report.category.choose')}</option>
            <CategoryOptions categories={catalog?.categories ?? []} />
          </select>
        )}
        {selected && (
          <p id="f-category-desc" class="hint">
            {selected.descriptions[lang] ?? selected.description}
          </p>
        )}
        <p
          class={route.state === 'outside' ? 'route warn' : route.state === 'ok' ? 'route' : 'route empty'}
          role="status"
          aria-live="polite"
        >
          {route.state === 'ok' && (
            <>
              <span aria-hidden="true">→ </span>
              {routingText(t, route.routing)}
            </>
          )}
          {route.state === 'outside' && t('route.outside')}
        </p>

        {candidates.length > 0 &&
          (different ? (
            <p class="hint">
              {t('dup.different.done')}{' '}
              <button type="button" class="link" onClick={() => setDifferent(false)}>
                {t('dup.show')}
              </button>
            </p>
          ) : (
            <Candidates
              candidates={candidates}
              confirming={confirming}
              busy={supporting}
              headingRef={candidatesHeading}
              followed={followedIds}
              onMeToo={(c) => void meToo(c)}
              onFollow={(c, follow) => void changeFollowing(c.incident_id, follow, null, email.trim())}
              onDifferent={chooseDifferent}
            />
          ))}

        <PhotoPicker
          legend={t('report.photo')}
          takeLabel={t('report.photo.take')}
          removeLabel={t('report.photo.remove')}
          alt={t('report.photo.alt')}
          photo={photo}
          onChange={setPhoto}
          note={
            photo && (
              <>
                {t('report.photo.size', {
                  w: photo.width,
                  h: photo.height,
                  kb: Math.round(photo.blob.size / 1024),
                })}
                <br />
                {t('report.photo.note')}
              </>
            )
          }
        />

        <label for="f-description">{t('report.description')}</label>
        <textarea
          id="f-description"
          rows={3}
          maxLength={4000}
          value={description}
          aria-invalid={invalidFields.has('f-description') ? 'true' : undefined}
          onInput={(e) => setDescription((e.target as HTMLTextAreaElement).value)}
        />

        <TextField
          id="f-email"
          label={t('report.email')}
          type="email"
          maxLength={254}
          autoComplete="email"
          value={email}
          invalid={invalidFields.has('f-email')}
          onValue={setEmail}
        />

        <button type="submit" class="primary" aria-disabled={submitting ? 'true' : undefined}>
          {t('report.submit')}
        </button>
      </form>
    </section>
  );
}
