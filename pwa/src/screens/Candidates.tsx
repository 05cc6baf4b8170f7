// "Is it one of these?": open incidents near the position, before a report is sent. A list of
// cards under headings, one "Me too" button on each, and one way on: "a different problem".
import type { Ref } from 'preact';
import type { DuplicateCandidate } from '../api';
import { countsText, formatDistance, reasonWords } from '../candidates';
import { formatDateTime } from '../i18n';
import { StatusBadge } from '../components';
import { catalogStore, categoryName, useStore, useT } from '../state';

export function Candidates(props: {
  candidates: readonly DuplicateCandidate[];
  confirming: boolean;
  busy: number | null;
  headingRef: Ref<HTMLHeadingElement>;
  /** The incidents this device follows. */
  followed: ReadonlySet<number>;
  onMeToo(candidate: DuplicateCandidate): void;
  onFollow(candidate: DuplicateCandidate, follow: boolean): void;
  onDifferent(): void;
}) {
  const { lang, t } = useT();
  const catalog = useStore(catalogStore);
  return (
    <section class="candidates" aria-labelledby="dup-title">
      <h2 id="dup-title" tabIndex={-1} ref={props.headingRef}>
        {t('dup.title')}
      </h2>
      {props.confirming && (
        <p class="notice" role="alert">
          {t('dup.confirm')}
        </p>
      )}
      <p class="hint">{t('dup.intro')}</p>
      <ol class="cards">
        {props.candidates.map((c, index) => {
          const id = `dup-${c.incident_id}`;
          const reasons = reasonWords(t, c.reasons);
          const following = props.followed.has(c.incident_id);
          return (
            <li class="card candidate" key={c.incident_id}>
              <h3 id={id}>
                <span class="num" aria-hidden="true">
                  {index + 1}
                </span>
                {categoryName(catalog, c.category.code, lang, c.category.name)}
              </h3>
              <p class="meta">
                <StatusBadge status={c.status} />{' '}
                <strong class="distance">{formatDistance(t, lang, c.distance_m)}</strong>
              </p>
              <p class="meta">
                {t('dup.reported', { date: formatDateTime(lang, c.reported_at) })}
                {' · '}
                {countsText(t, c)}
              </p>
              {c.address && <p class="address">{c.address}</p>}
              {c.description && <p class="description clamp">{c.description}</p>}
              {reasons.length > 0 && (
                <p class="meta">{t('dup.why', { reasons: reasons.join(', ') })}</p>
              )}
              <button
                type="button"
                class="primary metoo"
                aria-describedby={id}
                aria-disabled={props.busy !== null ? 'true' : undefined}
                onClick={() => props.onMeToo(c)}
              >
                <span aria-hidden="true">+1 </span>
                {t('dup.metoo')}
              </button>
              {following && (
                <p class="done">
                  <span aria-hidden="true">✓ </span>
                  {t('follow.following')}
                </p>
              )}
              <button
                type="button"
                class="secondary follow"
                aria-describedby={id}
                onClick={() => props.onFollow(c, !following)}
              >
                {t(following ? 'follow.stop' : 'dup.follow')}
              </button>
            </li>
          );
        })}
      </ol>
      <button type="button" class="secondary wide" onClick={props.onDifferent}>
        {t('dup.different')}
      </button>
    </section>
  );
}
