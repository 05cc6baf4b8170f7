import { describe, expect, it } from 'vitest';
import { inBBox, parseCoordinates } from '../src/geo';

describe('parseCoordinates', () => {
  it.each([
    ['42.3467, -71.0972', { lat: 42.3467, lon: -71.0972 }],
    ['42.3467 -71.0972', { lat: 42.3467, lon: -71.0972 }],
    ['  42.3467,-71.0972  ', { lat: 42.3467, lon: -71.0972 }],
    ['42,3467; -71,0972', { lat: 42.3467, lon: -71.0972 }],
    ['42,3467 -71,0972', { lat: 42.3467, lon: -71.0972 }],
    ['42, -71', { lat: 42, lon: -71 }],
    ['42.3 −71.1', { lat: 42.3, lon: -71.1 }],
  ])('%s', (text, expected) => {
    expect(parseCoordinates(text)).toEqual(expected);
  });

  it.each(['', '42.3', 'Main Street', '91, 10', '10, 181', '42.3, -71.1, 3'])(
    'refuses %s',
    (text) => {
      expect(parseCoordinates(text)).toBeNull();
    },
  );
});

describe('inBBox', () => {
  it('tells inside from outside', () => {
    const boston = [-71.19, 42.22, -70.92, 42.4];
    expect(inBBox({ lat: 42.35, lon: -71.06 }, boston)).toBe(true);
    expect(inBBox({ lat: 48.85, lon: 2.35 }, boston)).toBe(false);
  });
});
