import { describe, expect, it } from 'vitest';
import type { DuplicateCandidate } from '../src/api';
import {
  candidateSummary,
  countsText,
  formatDistance,
  reasonWords,
  routingText,
} from '../src/candidates';
import { translate, type Lang, type MessageKey, type Params } from '../src/i18n';

const tr = (lang: Lang) => (key: MessageKey, params?: Params) => translate(lang, key, params);
const en = tr('en');
const fr = tr('fr');

const candidate: DuplicateCandidate = {
  incident_id: 12,
  category: { code: 'pothole', name: 'Pothole' },
  status: 'submitted',
  latitude: 42.3467,
  longitude: -71.0972,
  distance_m: 12.4,
  address: null,
  description: 'Deep hole',
  reported_at: '2026-11-20T14:30:00Z',
  report_count: 3,
  supporters_count: 1,
  score: 0.7,
  reasons: ['recent', 'nearby'],
};

/** The no-break space that keeps a number with its word. */
const NB = '\u00a0';

describe('candidates', () => {
  it('says distances as a person would', () => {
    expect(formatDistance(en, 'en', 12.4)).toBe(`12${NB}m away`);
    expect(formatDistance(en, 'en', 0.2)).toBe(`0${NB}m away`);
    expect(formatDistance(en, 'en', 347)).toBe(`350${NB}m away`);
    expect(formatDistance(en, 'en', 1249)).toBe(`1.2${NB}km away`);
    expect(formatDistance(fr, 'fr', 12.4)).toBe(`à 12${NB}m`);
    expect(formatDistance(fr, 'fr', 1249)).toBe(`à 1,2${NB}km`);
  });

  it('puts the reasons in words, strongest first, ignoring unknown ones', () => {
    expect(reasonWords(en, ['recent', 'nearby', 'same_address'])).toEqual([
      'same address',
      'very close',
      'reported recently',
    ]);
    expect(reasonWords(fr, ['similar_description', 'teleported'])).toEqual([
      'description semblable',
    ]);
  });

  it('counts reports and supporters, with singulars', () => {
    expect(countsText(en, { report_count: 1, supporters_count: 0 })).toBe(`1${NB}report`);
    expect(countsText(en, { report_count: 3, supporters_count: 1 })).toBe(`3${NB}reports · 1${NB}supporter`);
    expect(countsText(fr, { report_count: 2, supporters_count: 4 })).toBe(
      `2${NB}signalements · 4${NB}soutiens`,
    );
  });

  it('sums a candidate up in one line', () => {
    const line = candidateSummary(en, 'en', candidate);
    expect(line).toMatch(/^12\u00a0m away · first reported Nov 20, 2026.* · 3\u00a0reports · 1\u00a0supporter$/);
  });

  it('says where a report goes', () => {
    const routing = {
      jurisdiction: 'boston',
      department: { code: 'pwd-d4', name: 'Public Works District 4' },
      service_area: { code: 'fenway', name: 'Fenway' },
    };
    expect(routingText(en, routing)).toBe('This goes to Public Works District 4, Fenway.');
    expect(routingText(fr, routing)).toBe('Transmis à Public Works District 4, Fenway.');
    expect(routingText(en, { ...routing, service_area: null })).toBe(
      'This goes to Public Works District 4.',
    );
    expect(routingText(en, { jurisdiction: 'boston', department: null, service_area: null })).toMatch(
      /no department/,
    );
  });
});
