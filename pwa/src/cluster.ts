// Client-side marker clustering on a screen grid: points whose projection falls in the same
// cell of `cellSize` pixels make one cluster, drawn at their mean position. A few lines instead
// of a library, and fast enough for the few hundred reports one viewport loads.

export interface Point {
  x: number;
  y: number;
}

export interface Cluster<T> {
  items: T[];
  /** Mean projected position of the items. */
  x: number;
  y: number;
}

export function gridCluster<T>(
  items: readonly T[],
  project: (item: T) => Point,
  cellSize = 60,
): Cluster<T>[] {
  if (!(cellSize > 0)) throw new RangeError('cellSize must be positive');
  const cells = new Map<string, { items: T[]; sx: number; sy: number }>();
  for (const item of items) {
    const p = project(item);
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) continue;
    const id = `${Math.floor(p.x / cellSize)}:${Math.floor(p.y / cellSize)}`;
    let cell = cells.get(id);
    if (!cell) {
      cell = { items: [], sx: 0, sy: 0 };
      cells.set(id, cell);
    }
    cell.items.push(item);
    cell.sx += p.x;
    cell.sy += p.y;
  }
  return [...cells.values()].map((c) => ({
    items: c.items,
    x: c.sx / c.items.length,
    y: c.sy / c.items.length,
  }));
}
