import { describe, expect, it } from 'vitest';
import type { Report } from '../src/api';
import { isKnown, onePerIncident } from '../src/incidents';

function report(id: number, incident: number, reports = 1, supporters = 0): Report {
  return {
    id,
    jurisdiction: 'boston',
    category: { code: 'pothole', name: 'Pothole' },
    incident_id: incident,
    incident: { report_count: reports, supporters_count: supporters },
    latitude: 42.3,
    longitude: -71.1,
    description: '',
    status: 'submitted',
    priority: 3,
    source: 'pwa',
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    overdue: false,
  };
}

describe('reports as problems', () => {
  it('shows each problem once, by its newest report, in the order given', () => {
    const list = [report(9, 3, 3, 2), report(8, 5), report(7, 3, 3, 2), report(6, 3, 3, 2), report(5, 4)];
    expect(onePerIncident(list).map((r) => r.id)).toEqual([9, 8, 5]);
  });

  it('says a problem is known when reported again or supported', () => {
    expect(isKnown({ report_count: 1, supporters_count: 0 })).toBe(false);
    expect(isKnown({ report_count: 2, supporters_count: 1 })).toBe(true);
    expect(isKnown({ report_count: 1, supporters_count: 1 })).toBe(true);
  });
});
