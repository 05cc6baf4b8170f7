import { describe, expect, it } from 'vitest';
import type { Job } from '../src/api';
import type { JobItem } from '../src/outbox';
import { crewMessages, crewTranslate } from '../src/crew/i18n';
import { assignment, countsText, distanceText, nextStatuses, priorityKey, projectJob } from '../src/crew/jobs';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
const c = (key: Parameters<typeof crewTranslate>[1], params?: Record<string, string | number>) =>
  crewTranslate('en', key, params);

describe('crew strings', () => {
  it('has every message in both languages, with the same placeholders', () => {
    const { en, fr } = crewMessages;
    expect(Object.keys(fr).sort()).toEqual(Object.keys(en).sort());
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(fr[key].trim(), key).not.toBe('');
      expect(placeholders(fr[key]), key).toEqual(placeholders(en[key]));
    }
  });
});

describe('the status machine, as the server has it', () => {
  it('offers what may follow each status', () => {
    expect(nextStatuses('submitted')).toEqual([
      'acknowledged',
      'scheduled',
      'in_progress',
      'resolved',
      'not_responsible',
      'rejected',
    ]);
    expect(nextStatuses('in_progress')).toEqual(['scheduled', 'resolved', 'not_responsible', 'rejected']);
    expect(nextStatuses('scheduled')).toEqual(['in_progress', 'resolved', 'not_responsible', 'rejected']);
    expect(nextStatuses('resolved')).toEqual(['reopened']);
    expect(nextStatuses('duplicate')).toEqual([]);
    expect(nextStatuses('reopened')).toContain('acknowledged');
    expect(nextStatuses('reopened')).not.toContain('reopened');
  });
});

describe('jobs in words', () => {
  it('says priority, distance, counts and who has it', () => {
    expect(c(priorityKey(1))).toBe('P1 urgent');
    expect(c(priorityKey(9))).toBe('P5 lowest');
    expect(distanceText(c, 'en', 42.4)).toBe('42 m away');
    expect(distanceText(c, 'en', 347)).toBe('350 m away');
    expect(distanceText(c, 'en', 1234)).toBe('1.2 km away');
    expect(distanceText(c, 'en', null)).toBeNull();
    expect(countsText(c, { report_count: 2, supporters_count: 1 })).toBe('2 reports · 1 supporter');
    expect(assignment(null, 5)).toBe('none');
    expect(assignment(5, 5)).toBe('me');
    expect(assignment(6, 5)).toBe('other');
  });

  it('shows the job with the crew’s waiting changes applied', () => {
    const base = { id: 9, status: 'submitted', assignee_id: null, version: 1 } as Job;
    const item = (change: JobItem['change']) => ({ jobId: 9, change }) as JobItem;
    const projected = projectJob(
      base,
      [
        item({ action: 'take' }),
        item({ action: 'status', change: { status: 'in_progress', explanation: 'On it' } }),
        { ...item({ action: 'release' }), jobId: 10 },
        { ...item({ action: 'release' }), state: 'rejected' },
      ],
      5,
    );
    expect(projected).toMatchObject({ status: 'in_progress', assignee_id: 5, version: 1 });
  });
});
