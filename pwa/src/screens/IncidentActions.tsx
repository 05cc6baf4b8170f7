// "Me too" and following, for one incident: on a report's page and on the problem's own page.
// Both go through the outbox (offline too). A "me too" refused because the problem closed
// meanwhile is said in words, with the way on: report it again.
import { useRef, useState } from 'preact/hooks';
import type { Incident, Problem } from '../api';
import { ProblemText } from '../components';
import { changeFollowing, sayMeToo, useFollowing, useSupported } from '../follows';
import { linkClick } from '../router';
import { useT } from '../state';
import { statusKey } from '../status';

export function IncidentActions(props: {
  incident: Incident;
  /** False on the page of a report this device sent: its reporter does not say "me too". */
  canSupport: boolean;
  /** The incident changed (a "me too" counted) or turned out to be closed: read it again. */
  onChanged(): void;
}) {
  const { t } = useT();
  const { incident } = props;
  const following = useFollowing(incident.id);
  const [email, setEmail] = useState('');
  const [busy, setBusy] = useState(false);
  const supported = useSupported(incident.id);
  const [problem, setProblem] = useState<Problem | null>(null);
  const alertBox = useRef<HTMLDivElement>(null);
  const closed = !!incident.closed_at;
  // Refused because it closed meanwhile: the refusal says it, with the way on.
  const refusedClosed = problem?.code === 'incident_closed';
  const canMeToo = props.canSupport && !closed && !supported;

  async function meToo(): Promise<void> {
    if (busy) return;
    setBusy(true);
    setProblem(null);
    try {
      const result = await sayMeToo(incident.id, email.trim());
      if (result.verdict === 'rejected') {
        setProblem(result.problem ?? null);
        requestAnimationFrame(() => alertBox.current?.focus());
      }
      if (result.verdict !== 'retry') props.onChanged();
    } finally {
      setBusy(false);
    }
  }

  async function toggleFollowing(): Promise<void> {
    if (busy) return;
    setBusy(true);
    setProblem(null);
    try {
      const result = await changeFollowing(incident.id, !following, incident, email.trim());
      if (result.verdict === 'rejected') setProblem(result.problem ?? null);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="act" aria-labelledby="act-title">
      <h2 id="act-title">{t(canMeToo ? 'act.title' : 'act.title.closed')}</h2>
      {closed && !refusedClosed ? (
        <p class="notice">
          {t('act.closed', { status: t(statusKey(incident.status)) })}{' '}
          <a href="/report" onClick={linkClick}>
            {t('act.report.again')}
          </a>
        </p>
      ) : (
        canMeToo && <p class="hint">{t('act.intro')}</p>
      )}
      {!props.canSupport && !closed && !following && <p class="hint">{t('act.intro.mine')}</p>}
      {problem && (
        <div class="error-box" role="alert" tabIndex={-1} ref={alertBox}>
          <ProblemText problem={problem} />
          {refusedClosed && (
            <p>
              <a href="/report" onClick={linkClick}>
                {t('act.report.again')}
              </a>
            </p>
          )}
        </div>
      )}
      {supported && (
        <p class="done">
          <span aria-hidden="true">✓ </span>
          {t('act.supported')}
        </p>
      )}
      {following && (
        <p class="done">
          <span aria-hidden="true">✓ </span>
          {t('follow.following')}
        </p>
      )}
      {/* A closed problem is followed for its history (or a reopening): no mail asked here. */}
      {(canMeToo || (!following && !closed)) && (
        <>
          <label for="act-email">{t('act.email')}</label>
          <input
            id="act-email"
            type="email"
            maxLength={254}
            autoComplete="email"
            value={email}
            onInput={(e) => setEmail((e.target as HTMLInputElement).value)}
          />
        </>
      )}
      <div class="actions">
        {canMeToo && (
          <button
            type="button"
            class="primary metoo"
            aria-disabled={busy ? 'true' : undefined}
            onClick={() => void meToo()}
          >
            <span aria-hidden="true">+1 </span>
            {t('dup.metoo')}
          </button>
        )}
        <button
          type="button"
          class="secondary"
          aria-disabled={busy ? 'true' : undefined}
          onClick={() => void toggleFollowing()}
        >
          {t(following ? 'follow.stop' : 'follow.follow')}
        </button>
      </div>
    </section>
  );
}
