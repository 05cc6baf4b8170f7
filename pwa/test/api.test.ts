import { describe, expect, it } from 'vitest';
import { ifMatch, reportFormData, toProblem } from '../src/api';

describe('the multipart create', () => {
  it('carries the report as a JSON part and one part per photo', async () => {
    const body = { category: 'pothole', latitude: 42.3, longitude: -71.1, source: 'pwa' as const };
    const photo = new Blob([new Uint8Array([255, 216, 255, 224])], { type: 'image/jpeg' });
    const form = reportFormData(body, [photo]);
    const report = form.get('report') as Blob;
    expect(report.type).toBe('application/json');
    expect(JSON.parse(await report.text())).toEqual(body);
    const photos = form.getAll('photo') as Blob[];
    expect(photos).toHaveLength(1);
    expect(photos[0].size).toBe(4);
  });
});

describe('jobs', () => {
  it('quotes the version as the ETag is written', () => {
    expect(ifMatch(7)).toBe('"7"');
  });

  it('keeps the job a 409 brings back', () => {
    const problem = toProblem(409, {
      type: 'urn:signalons:problem:version_conflict',
      title: 'Conflict',
      status: 409,
      detail: 'changed',
      code: 'version_conflict',
      current: { id: 3, version: 4 },
    });
    expect(problem.current).toEqual({ id: 3, version: 4 });
    expect(toProblem(500, 'oops')).not.toHaveProperty('current');
  });
});
