// When the outbox is sent from the page: on submit, at start, when the connection returns and
// when the app regains focus. Background Sync (in the service worker) covers the app closed.
import { flushOutbox, onResultsElsewhere, SYNC_TAG, type SendResult } from './outbox';
// Installs the signed-in sender of crews' changes.
import './auth';
import { announce, langStore, type T } from './state';
import { translate } from './i18n';
import { supportersText } from './candidates';
import { problemSummary } from './components';

interface SyncManager {
  register(tag: string): Promise<void>;
}

/** Asks the browser to wake the service worker when the network is back (Chromium). */
export async function requestBackgroundSync(): Promise<void> {
  try {
    const registration = await navigator.serviceWorker?.getRegistration();
    const sync = (registration as (ServiceWorkerRegistration & { sync?: SyncManager }) | undefined)
      ?.sync;
    await sync?.register(SYNC_TAG);
  } catch {
    // Not supported or not allowed: the page's own triggers still send the outbox.
  }
}

export function announceResults(results: SendResult[]): void {
  const lang = langStore.get();
  const t: T = (key, params) => translate(lang, key, params);
  for (const result of results) {
    if (result.verdict === 'sent' && result.job) {
      announce(t('outbox.job.sent', { id: result.job.id }));
    } else if (result.verdict === 'sent' && result.kind === 'job') {
      // A crew's photo of the work: stored.
      announce(t('outbox.job.photo'));
    } else if (result.verdict === 'rejected' && result.kind === 'job') {
      announce(
        result.problem?.status === 409
          ? t('outbox.job.conflict')
          : t('outbox.job.rejected', { detail: result.problem ? problemSummary(t, result.problem) : '' }),
        'error',
      );
    } else if (result.verdict === 'sent' && result.support) {
      announce(
        result.support.newly_supported
          ? t('dup.supported', { supporters: supportersText(t, result.support.supporters_count) })
          : t('dup.supported.again'),
      );
    } else if (result.follow && result.verdict === 'sent') {
      const { incidentId: id, following } = result.follow;
      announce(t(following ? 'follow.done' : 'follow.stopped', { id }));
    } else if (result.follow && result.verdict === 'rejected') {
      const detail = result.problem ? problemSummary(t, result.problem) : '';
      announce(t('follow.rejected', { id: result.follow.incidentId, detail }), 'error');
    } else if (result.verdict === 'rejected' && result.kind === 'support') {
      const detail = result.problem ? problemSummary(t, result.problem) : '';
      announce(t('dup.rejected', { detail }), 'error');
    } else if (result.verdict === 'sent' && result.report?.linked_to_existing_incident) {
      announce(t('outbox.linked', { n: result.report.incident.report_count }));
    } else if (result.verdict === 'sent' && result.report) {
      announce(translate(lang, 'outbox.sent', { id: result.report.id }));
    } else if (result.verdict === 'rejected') {
      announce(
        t('outbox.rejected', { detail: result.problem ? problemSummary(t, result.problem) : '' }),
        'error',
      );
    }
  }
}

let running: Promise<void> | null = null;
let again = false;

/** Sends the outbox; asked while already sending, it goes through once more when done (an item
 *  queued meanwhile is not left behind). */
export function flushNow(): Promise<void> {
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    do {
      again = false;
      try {
        const results = await flushOutbox();
        announceResults(results);
        if (results.some((r) => r.verdict === 'retry')) void requestBackgroundSync();
      } catch {
        // Storage unavailable: the next trigger tries again.
      }
    } while (again);
  })().finally(() => {
    running = null;
  });
  return running;
}

export function startOutboxTriggers(): void {
  // Sent by the service worker (Background Sync) while the app is open: said here as well, so
  // that "saved on this device" does not stay on screen over a report sent or refused since.
  onResultsElsewhere(announceResults);
  void flushNow();
  window.addEventListener('online', () => void flushNow());
  window.addEventListener('focus', () => void flushNow());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') void flushNow();
  });
}
