// Numbered markers that would cover each other (jobs a few metres apart, candidates of one
// street corner) are drawn side by side on a small circle around where they are, each keeping
// its number readable and its own tap target; a thin leg links each to its true place. Pure:
// pixels in, pixels out (unit tested).

export interface Pixel {
  x: number;
  y: number;
}

/**
 * Where to draw markers `size` pixels wide so that none covers another. Markers closer than
 * `size` to one another (directly or through a chain) form a group, laid out in their order
 * clockwise from the top around the group's centre; the others stay where they are.
 */
export function spread(points: readonly Pixel[], size: number): Pixel[] {
  const parent = points.map((_, i) => i);
  const root = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      if (Math.hypot(points[i].x - points[j].x, points[i].y - points[j].y) < size) {
        parent[root(j)] = root(i);
      }
    }
  }
  const groups = new Map<number, number[]>();
  points.forEach((_, i) => {
    const members = groups.get(root(i)) ?? [];
    members.push(i);
    groups.set(root(i), members);
  });
  const placed = points.map((p) => ({ x: p.x, y: p.y }));
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const cx = members.reduce((sum, i) => sum + points[i].x, 0) / members.length;
    const cy = members.reduce((sum, i) => sum + points[i].y, 0) / members.length;
    // Neighbours on the circle are `size` apart (the chord of one step).
    const radius = size / (2 * Math.sin(Math.PI / members.length));
    members.forEach((i, k) => {
      const angle = -Math.PI / 2 + (2 * Math.PI * k) / members.length;
      placed[i] = { x: cx + radius * Math.cos(angle), y: cy + radius * Math.sin(angle) };
    });
  }
  return placed;
}
