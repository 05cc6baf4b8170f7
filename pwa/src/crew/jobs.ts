// A crew's jobs in words, and what the crew's own waiting changes make of them. Pure (no DOM):
// unit tested.
import type { Job, ReportStatus } from '../api';
import type { JobItem } from '../outbox';
import type { CrewKey, CrewT } from './i18n';

/**
 * The statuses a job in `from` may move to, as the server's status machine allows (a status
 * never follows itself; `submitted` is only a start; a closed job can only be reopened, and only
 * from resolved, rejected or not our responsibility). `duplicate` is left to merging.
 */
export function nextStatuses(from: ReportStatus): ReportStatus[] {
  const closed = ['resolved', 'duplicate', 'not_responsible', 'rejected'].includes(from);
  const all: ReportStatus[] = [
    'acknowledged',
    'scheduled',
    'in_progress',
    'resolved',
    'not_responsible',
    'rejected',
    'reopened',
  ];
  return all.filter((to) => {
    if (to === from) return false;
    if (to === 'reopened') return ['resolved', 'rejected', 'not_responsible'].includes(from);
    if (closed) return false;
    if (to === 'acknowledged') return from === 'submitted' || from === 'reopened';
    if (to === 'scheduled') return ['submitted', 'acknowledged', 'in_progress', 'reopened'].includes(from);
    return true;
  });
}

export function priorityKey(priority: number): CrewKey {
  const p = Math.min(5, Math.max(1, Math.round(priority)));
  return `priority.${p}` as CrewKey;
}

export type Assignment = 'me' | 'other' | 'none';

export function assignment(assigneeId: number | null | undefined, me: number): Assignment {
  if (assigneeId === null || assigneeId === undefined) return 'none';
  return assigneeId === me ? 'me' : 'other';
}

/** "12 m away", "1.2 km away" (null when the queue was asked without a position). */
export function distanceText(c: CrewT, lang: string, metres: number | null | undefined): string | null {
  if (metres === null || metres === undefined || !Number.isFinite(metres)) return null;
  const m = Math.max(0, metres);
  if (m < 1000) return c('distance.m', { n: m < 100 ? Math.round(m) : Math.round(m / 10) * 10 });
  const km = new Intl.NumberFormat(lang === 'fr' ? 'fr-FR' : 'en-US', {
    maximumFractionDigits: 1,
  }).format(m / 1000);
  return c('distance.km', { n: km });
}

export function countsText(c: CrewT, job: Pick<Job, 'report_count' | 'supporters_count'>): string {
  const reports =
    job.report_count === 1 ? c('reports.1') : c('reports.n', { n: job.report_count });
  const s = job.supporters_count;
  const supporters =
    s === 0 ? c('supporters.0') : s === 1 ? c('supporters.1') : c('supporters.n', { n: s });
  return c('counts', { reports, supporters });
}

/** The job as the crew will see it once their waiting changes are applied, oldest first
 *  (a refused change is not: it waits for the crew's decision). */
export function projectJob(job: Job, waiting: readonly JobItem[], me: number): Job {
  let projected = job;
  for (const item of waiting) {
    if (item.jobId !== job.id || item.state === 'rejected') continue;
    const change = item.change;
    if (change.action === 'take') projected = { ...projected, assignee_id: me };
    else if (change.action === 'release') projected = { ...projected, assignee_id: null };
    else if (change.action === 'status') projected = { ...projected, status: change.change.status };
  }
  return projected;
}

/** The version a new change should be made on: the one the crew last saw from the server. */
export const versionFor = (job: Job): number => job.version;
