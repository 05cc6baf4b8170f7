// Report statuses as the public sees them. Every status has a word and a symbol, never a colour
// alone (WCAG 1.4.1): open problems show "!", closed ones "✓" (resolved) or "–" (set aside).
import type { MessageKey } from './i18n';
import type { ReportStatus } from './api';

export const OPEN_STATUSES: readonly ReportStatus[] = [
  'submitted',
  'acknowledged',
  'scheduled',
  'in_progress',
  'reopened',
];
export const CLOSED_STATUSES: readonly ReportStatus[] = [
  'resolved',
  'duplicate',
  'not_responsible',
  'rejected',
];
export const ALL_STATUSES: readonly ReportStatus[] = [...OPEN_STATUSES, ...CLOSED_STATUSES];

export type StatusFilter = '' | 'open' | 'closed' | ReportStatus;

/** The `status` query parameter for a filter choice (undefined: no filter). */
export function statusQuery(filter: StatusFilter): string | undefined {
  if (filter === '') return undefined;
  if (filter === 'open') return OPEN_STATUSES.join(',');
  if (filter === 'closed') return CLOSED_STATUSES.join(',');
  return filter;
}

export function isOpen(status: string): boolean {
  return (OPEN_STATUSES as readonly string[]).includes(status);
}

export function statusKey(status: string): MessageKey {
  return (ALL_STATUSES as readonly string[]).includes(status)
    ? (`status.${status}` as MessageKey)
    : 'status.submitted';
}

export type StatusTone = 'open' | 'progress' | 'done' | 'aside';

export function statusTone(status: string): StatusTone {
  if (status === 'resolved') return 'done';
  if (status === 'scheduled' || status === 'in_progress') return 'progress';
  if (isOpen(status)) return 'open';
  return 'aside';
}

export function statusSymbol(status: string): string {
  switch (statusTone(status)) {
    case 'done':
      return '✓';
    case 'progress':
      return '…';
    case 'open':
      return '!';
    default:
      return '–';
  }
}
