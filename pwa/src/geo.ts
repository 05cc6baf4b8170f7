// Positions typed by hand: "42.3467, -71.0972", "42.3467 -71.0972", or with decimal commas as
// written in French, "42,3467; -71,0972".

export interface LatLon {
  lat: number;
  lon: number;
}

const NUMBER = String.raw`[-+−]?\d{1,3}(?:[.,]\d+)?`;
const PAIR = new RegExp(String.raw`^\s*(${NUMBER})\s*(?:[;,]\s*|\s+)(${NUMBER})\s*$`);

export function parseCoordinates(text: string): LatLon | null {
  const match = PAIR.exec(text);
  if (!match) return null;
  const read = (s: string) => Number(s.replace('−', '-').replace(',', '.'));
  const lat = read(match[1]);
  const lon = read(match[2]);
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return null;
  if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  return { lat, lon };
}

/** Whether a point lies in a west, south, east, north box. */
export function inBBox(point: LatLon, bbox: readonly number[]): boolean {
  const [west, south, east, north] = bbox;
  return point.lon >= west && point.lon <= east && point.lat >= south && point.lat <= north;
}
