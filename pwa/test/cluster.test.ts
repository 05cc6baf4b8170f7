import { describe, expect, it } from 'vitest';
import { gridCluster } from '../src/cluster';

const id = (p: { x: number; y: number }) => p;

describe('gridCluster', () => {
  it('groups points of one cell at their mean position', () => {
    const clusters = gridCluster(
      [
        { x: 10, y: 10 },
        { x: 20, y: 30 },
        { x: 130, y: 10 },
      ],
      id,
      60,
    );
    expect(clusters).toHaveLength(2);
    const big = clusters.find((c) => c.items.length === 2)!;
    expect(big.x).toBe(15);
    expect(big.y).toBe(20);
    expect(clusters.find((c) => c.items.length === 1)!.x).toBe(130);
  });

  it('keeps every item exactly once', () => {
    const points = Array.from({ length: 1000 }, (_, i) => ({
      x: (i * 7919) % 1000,
      y: (i * 104729) % 700,
      i,
    }));
    const clusters = gridCluster(points, id, 50);
    const seen = clusters.flatMap((c) => c.items.map((p) => p.i)).sort((a, b) => a - b);
    expect(seen).toEqual(points.map((p) => p.i));
    expect(clusters.length).toBeLessThanOrEqual(20 * 14);
  });

  it('separates points in different cells and handles negatives', () => {
    const clusters = gridCluster([{ x: -1, y: 0 }, { x: 1, y: 0 }], id, 60);
    expect(clusters).toHaveLength(2);
  });

  it('skips points that cannot be projected', () => {
    expect(gridCluster([{ x: Number.NaN, y: 0 }], id)).toEqual([]);
  });

  it('refuses a cell of no size', () => {
    expect(() => gridCluster([], id, 0)).toThrow(RangeError);
  });
});
