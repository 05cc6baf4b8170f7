import { describe, expect, it } from 'vitest';
import { tileAlignedBBox } from '../src/tiles';
import type { BBox } from '../src/api';

describe('tileAlignedBBox', () => {
  it('widens a viewport to the tiles it touches', () => {
    const view: BBox = [-71.07, 42.35, -71.05, 42.36];
    const [west, south, east, north] = tileAlignedBBox(view, 14);
    expect(west).toBeLessThanOrEqual(-71.07);
    expect(south).toBeLessThanOrEqual(42.35);
    expect(east).toBeGreaterThanOrEqual(-71.05);
    expect(north).toBeGreaterThanOrEqual(42.36);
    // Tile 14/4957 starts at -71.0815...; its width is 360 / 2^14 degrees.
    expect(west).toBeCloseTo(-180 + (4957 * 360) / 2 ** 14, 5);
    expect((east - west) * 2 ** 14 / 360).toBeCloseTo(2, 3);
  });

  it('gives the same bounds for nearby viewports of one zoom', () => {
    const a = tileAlignedBBox([-71.07, 42.35, -71.05, 42.36], 13);
    const b = tileAlignedBBox([-71.069, 42.351, -71.051, 42.359], 13);
    expect(a).toEqual(b);
  });

  it('stays within the world', () => {
    const [west, south, east, north] = tileAlignedBBox([-180, -90, 180, 90], 2);
    expect(west).toBeGreaterThanOrEqual(-180);
    expect(east).toBeLessThanOrEqual(180);
    expect(south).toBeGreaterThan(-85.06);
    expect(north).toBeLessThan(85.06);
  });
});
