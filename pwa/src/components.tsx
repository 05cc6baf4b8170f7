import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Category, Photo, Problem, ReportEvent } from './api';
import {
  formatDateTime,
  formatDueDate,
  isMessageKey,
  translate,
  type Lang,
  type MessageKey,
} from './i18n';
import { resizePhoto } from './image';
import type { StoredPhoto } from './outbox';
import { statusKey, statusSymbol, statusTone } from './status';
import { catalogStore, groupCategories, useStore, useT, type T } from './state';

/** A status as a word and a symbol; the colour only repeats them. */
export function StatusBadge({ status }: { status: string }) {
  const { t } = useT();
  return (
    <span class={`status status-${statusTone(status)}`}>
      <span aria-hidden="true">{statusSymbol(status)} </span>
      {t(statusKey(status))}
    </span>
  );
}

export function DateTime({ iso, lang }: { iso: string; lang: Lang }) {
  return <time dateTime={iso}>{formatDateTime(lang, iso)}</time>;
}

const normalize = (s: string) => s.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');

/** The server's stock "Report received." says nothing the line above does not. */
function isCannedCreation(event: ReportEvent): boolean {
  return (
    event.kind === 'created' &&
    normalize(event.explanation) === normalize(translate('en', 'timeline.created'))
  );
}

/** When the city's service level says a problem should be fixed, and whether it is late: in
 *  words, the colour only repeats them. */
export function DueText({ dueAt, overdue }: { dueAt: string; overdue: boolean }) {
  const { lang, t } = useT();
  const catalog = useStore(catalogStore);
  const date = formatDueDate(lang, dueAt, catalog?.jurisdiction.time_zone);
  return (
    <time dateTime={dueAt} class={overdue ? 'due is-overdue' : 'due'}>
      {overdue && <span aria-hidden="true">⚠ </span>}
      {t(overdue ? 'due.overdue' : 'due.by', { date })}
    </time>
  );
}

/** A public history: a report's, oldest first, or an incident's, newest first (as given). */
export function Timeline({
  events,
  explanationLang,
  headingLevel = 3,
  newestFirst = false,
}: {
  events: readonly ReportEvent[];
  explanationLang?: string;
  headingLevel?: 2 | 3;
  newestFirst?: boolean;
}) {
  const { lang, t } = useT();
  const Heading = headingLevel === 2 ? 'h2' : 'h3';
  return (
    <section class="timeline">
      <Heading>{t(newestFirst ? 'timeline.title.newest' : 'timeline.title')}</Heading>
      {events.length === 0 ? (
        <p>{t('timeline.empty')}</p>
      ) : (
        <ol>
          {events.map((event) => {
            const kindKey = `timeline.${event.kind}`;
            return (
              <li key={event.id}>
                <DateTime iso={event.created_at} lang={lang} />
                <strong>
                  {isMessageKey(kindKey) ? t(kindKey) : event.kind}
                  {event.status_to && event.kind !== 'created' && (
                    <>
                      {t('common.colon')}
                      {t('timeline.transition', {
                        from: event.status_from ? t(statusKey(event.status_from)) : '—',
                        to: t(statusKey(event.status_to)),
                      })}
                    </>
                  )}
                </strong>
                {event.kind === 'created' && event.status_to && (
                  <StatusBadge status={event.status_to} />
                )}
                {event.explanation && !isCannedCreation(event) && (
                  <p lang={explanationLang}>{event.explanation}</p>
                )}
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}

/** A photo kept in IndexedDB, shown through an object URL freed when it goes. */
export function PhotoThumb({ photo, alt }: { photo: StoredPhoto; alt: string }) {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    const objectUrl = URL.createObjectURL(photo.blob);
    setUrl(objectUrl);
    return () => URL.revokeObjectURL(objectUrl);
  }, [photo.blob]);
  return url ? (
    <img class="thumb" src={url} alt={alt} width={photo.width} height={photo.height} />
  ) : null;
}

/** The size a thumbnail is drawn at (the server's are at most 320 px on the long side). */
const CAMERA_ICON =
  'M9 4 7.2 6H4a2 2 0 0 0-2 2v10a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V8a2 2 0 0 0-2-2h-3.2L15 4H9Zm3 5a4 4 0 1 1 0 8 4 4 0 0 1 0-8Zm0 2a2 2 0 1 0 0 4 2 2 0 0 0 0-4Z';

/** One photo from the camera or the gallery, resized on the phone, with its preview. */
export function PhotoPicker(props: {
  legend: string;
  takeLabel: string;
  removeLabel: string;
  alt: string;
  photo: StoredPhoto | null;
  onChange: (photo: StoredPhoto | null) => void;
  /** What the preview says beside the thumbnail. */
  note?: ComponentChildren;
}) {
  const { t } = useT();
  const [state, setState] = useState<'idle' | 'working' | 'error'>('idle');
  async function choose(event: Event): Promise<void> {
    const input = event.target as HTMLInputElement;
    const file = input.files?.[0];
    if (!file) return;
    setState('working');
    try {
      props.onChange(await resizePhoto(file));
      setState('idle');
    } catch {
      setState('error');
    } finally {
      input.value = '';
    }
  }
  return (
    <fieldset class="photo">
      <legend>{props.legend}</legend>
      <label class="file-button">
        <input
          type="file"
          accept="image/*"
          capture="environment"
          class="visually-hidden-input"
          onChange={(e) => void choose(e)}
        />
        <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false">
          <path fill="currentColor" d={CAMERA_ICON} />
        </svg>
        {props.takeLabel}
      </label>
      <p class="hint" role="status">
        {state === 'working'
          ? t('report.photo.working')
          : state === 'error'
            ? t('report.photo.error')
            : ''}
      </p>
      {props.photo && (
        <div class="photo-preview">
          <PhotoThumb photo={props.photo} alt={props.alt} />
          {props.note && <p class="hint">{props.note}</p>}
          <button type="button" class="link" onClick={() => props.onChange(null)}>
            {props.removeLabel}
          </button>
        </div>
      )}
    </fieldset>
  );
}

export function thumbnailSize(photo: { width: number; height: number }, max = 160) {
  const scale = Math.min(1, max / Math.max(photo.width, photo.height, 1));
  return {
    width: Math.max(1, Math.round(photo.width * scale)),
    height: Math.max(1, Math.round(photo.height * scale)),
  };
}

/** A report's public photos as thumbnails, each a link to the full photo. */
export function PhotoList({ photos }: { photos: readonly Photo[] }) {
  const { t } = useT();
  return (
    <section class="photos" aria-labelledby="photos-title">
      <h2 id="photos-title">{t('report.detail.photos')}</h2>
      <ul>
        {photos.map((photo, index) => {
          const n = index + 1;
          const size = thumbnailSize(photo);
          return (
            <li key={photo.id}>
              <a href={photo.url} target="_blank" rel="noopener" title={t('photo.open', { n })}>
                <img
                  src={photo.thumbnail_url}
                  alt={t(photo.kind === 'resolution' ? 'photo.alt.resolution' : 'photo.alt.report', {
                    n,
                  })}
                  width={size.width}
                  height={size.height}
                  loading="lazy"
                />
              </a>
              <span class="caption">
                {t(photo.kind === 'resolution' ? 'photo.kind.resolution' : 'photo.kind.report')}
              </span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

/** One field error in the resident's language when we know its code, else the server's words. */
export function describeFieldError(
  t: T,
  error: { field: string; code: string; detail: string },
): string {
  const fieldKey = `field.${error.field}`;
  const codeKey = `error.${error.code}`;
  const field = isMessageKey(fieldKey) ? t(fieldKey) : error.field;
  const reason = isMessageKey(codeKey) ? t(codeKey as MessageKey) : error.detail;
  return `${field}${t('common.colon')}${reason}`;
}

/** A problem in the resident's language when we know its code, else the server's words. */
export function problemSummary(t: T, problem: Problem): string {
  const codeKey = `error.${problem.code}`;
  return isMessageKey(codeKey) ? t(codeKey) : problem.detail || problem.title;
}

/** A problem document as a sentence and a list of invalid fields. */
export function ProblemText({ problem }: { problem: Problem }) {
  const { t } = useT();
  const summary = problemSummary(t, problem);
  return (
    <div class="problem">
      <p>{summary}</p>
      {problem.errors && problem.errors.length > 0 && (
        <ul>
          {problem.errors.map((error) => (
            <li key={error.field + error.code}>{describeFieldError(t, error)}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The categories as `<option>`s under their group, named in the resident's language. */
export function CategoryOptions({ categories }: { categories: readonly Category[] }) {
  const { lang } = useT();
  return (
    <>
      {groupCategories(categories).map(([group, list]) => (
        <optgroup label={group} key={group}>
          {list.map((c) => (
            <option value={c.code} key={c.code}>
              {c.names[lang] ?? c.name}
            </option>
          ))}
        </optgroup>
      ))}
    </>
  );
}

/** A labelled one-line text input, marked invalid when the server refused its value. */
export function TextField(props: {
  id: string;
  label: string;
  value: string;
  onValue(value: string): void;
  type?: 'text' | 'email';
  maxLength: number;
  autoComplete: string;
  invalid: boolean;
}) {
  return (
    <>
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        // (Preact's typings tie a union of input types to `list`; both are plain text boxes.)
        type={(props.type ?? 'text') as 'text'}
        maxLength={props.maxLength}
        autoComplete={props.autoComplete}
        value={props.value}
        aria-invalid={props.invalid ? 'true' : undefined}
        onInput={(e) => props.onValue((e.target as HTMLInputElement).value)}
      />
    </>
  );
}
