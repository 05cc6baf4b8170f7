import { describe, expect, it } from 'vitest';
import { spread, type Pixel } from '../src/map/spread';

const distance = (a: Pixel, b: Pixel) => Math.hypot(a.x - b.x, a.y - b.y);

describe('numbered markers kept apart', () => {
  it('leaves markers that do not touch where they are', () => {
    const points = [
      { x: 0, y: 0 },
      { x: 40, y: 0 },
      { x: 0, y: 100 },
    ];
    expect(spread(points, 34)).toEqual(points);
  });

  it('puts markers on the same spot side by side, the first on top, none covering another', () => {
    const here = { x: 100, y: 100 };
    const placed = spread([here, here, { x: 300, y: 300 }, here], 34);
    expect(placed[2]).toEqual({ x: 300, y: 300 });
    const group = [placed[0], placed[1], placed[3]];
    for (let i = 0; i < group.length; i++) {
      for (let j = i + 1; j < group.length; j++) {
        expect(distance(group[i], group[j])).toBeGreaterThanOrEqual(34 - 1e-9);
      }
    }
    // Around where they are, the first at the top, then clockwise (screen y grows downwards).
    expect(placed[0].x).toBeCloseTo(100);
    expect(placed[0].y).toBeLessThan(100);
    expect(placed[1].x).toBeGreaterThan(100);
    for (const p of group) expect(distance(p, here)).toBeLessThan(34);
  });

  it('groups markers that overlap through a chain', () => {
    const placed = spread(
      [
        { x: 0, y: 0 },
        { x: 20, y: 0 },
        { x: 40, y: 0 },
      ],
      30,
    );
    expect(distance(placed[0], placed[2])).toBeGreaterThanOrEqual(30 - 1e-9);
    expect(distance(placed[0], placed[1])).toBeGreaterThanOrEqual(30 - 1e-9);
  });
});
