import { describe, expect, it } from 'vitest';
import { fitWithin, MAX_SIDE } from '../src/image';

describe('fitWithin', () => {
  it.each([
    [4000, 3000, 2048, 1536],
    [3000, 4000, 1536, 2048],
    [4032, 3024, 2048, 1536],
    [2048, 2048, 2048, 2048],
    [1000, 800, 1000, 800],
    [5000, 10, 2048, 4],
    [10000, 1, 2048, 1],
    [2049, 2049, 2048, 2048],
  ])('%i×%i → %i×%i', (w, h, ew, eh) => {
    expect(fitWithin(w, h)).toEqual({ width: ew, height: eh });
  });

  it('never exceeds the limit and keeps the ratio', () => {
    for (let i = 0; i < 500; i++) {
      const w = 1 + Math.floor(Math.random() * 9000);
      const h = 1 + Math.floor(Math.random() * 9000);
      const out = fitWithin(w, h);
      expect(Math.max(out.width, out.height)).toBeLessThanOrEqual(MAX_SIDE);
      const scale = Math.min(1, MAX_SIDE / Math.max(w, h));
      expect(Math.abs(out.width - Math.max(1, w * scale))).toBeLessThanOrEqual(0.5);
      expect(Math.abs(out.height - Math.max(1, h * scale))).toBeLessThanOrEqual(0.5);
    }
  });

  it('honours another limit', () => {
    expect(fitWithin(1000, 500, 100)).toEqual({ width: 100, height: 50 });
  });

  it('refuses an empty image', () => {
    expect(() => fitWithin(0, 10)).toThrow(RangeError);
    expect(() => fitWithin(10, Number.NaN)).toThrow(RangeError);
  });
});
