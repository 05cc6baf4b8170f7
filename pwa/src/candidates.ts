// Duplicate candidates as the resident reads them: how far, since when, how many, and why.
// Pure (no DOM): unit tested.
import type { DuplicateCandidate, MatchReason, RoutingPreview } from './api';
import { formatDateTime, type Lang, type MessageKey, type Params } from './i18n';

type Translate = (key: MessageKey, params?: Params) => string;

/** "12 m away", "350 m away", "1.2 km away": rounded as a person would say it. */
export function formatDistance(t: Translate, lang: Lang, metres: number): string {
  const m = Math.max(0, metres);
  if (m < 1000) {
    const rounded = m < 100 ? Math.round(m) : Math.round(m / 10) * 10;
    return t('dup.distance.m', { n: rounded });
  }
  const km = new Intl.NumberFormat(lang === 'fr' ? 'fr-FR' : 'en-US', {
    maximumFractionDigits: 1,
  }).format(m / 1000);
  return t('dup.distance.km', { n: km });
}

const REASON_ORDER: readonly MatchReason[] = [
  'same_address',
  'nearby',
  'similar_description',
  'recent',
];

/** The reasons in words, the strongest first, unknown ones left out. */
export function reasonWords(t: Translate, reasons: readonly string[]): string[] {
  return REASON_ORDER.filter((r) => reasons.includes(r)).map((r) => t(`dup.reason.${r}`));
}

/** "3 reports · 2 supporters" (the supporters only when there are some). */
export function countsText(t: Translate, c: Pick<DuplicateCandidate, 'report_count' | 'supporters_count'>): string {
  const reports = t(c.report_count === 1 ? 'dup.reports.1' : 'dup.reports.n', { n: c.report_count });
  if (c.supporters_count <= 0) return reports;
  return `${reports} · ${supportersText(t, c.supporters_count)}`;
}

/** "1 supporter", "4 supporters". */
export function supportersText(t: Translate, n: number): string {
  return t(n === 1 ? 'dup.supporters.1' : 'dup.supporters.n', { n });
}

/** One line for a candidate: distance, first reported, counts. */
export function candidateSummary(t: Translate, lang: Lang, c: DuplicateCandidate): string {
  return [
    formatDistance(t, lang, c.distance_m),
    t('dup.reported', { date: formatDateTime(lang, c.reported_at) }),
    countsText(t, c),
  ].join(' · ');
}

/** "This goes to <department>, <area>", with what the server knows. */
export function routingText(t: Translate, routing: RoutingPreview): string {
  const parts = [routing.department?.name, routing.service_area?.name].filter(Boolean);
  return parts.length ? t('route.to', { to: parts.join(', ') }) : t('route.unknown');
}
