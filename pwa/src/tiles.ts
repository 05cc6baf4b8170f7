// The map asks the server for clusters of the map tiles in view, not of the exact viewport:
// the same tiles give the same URL, so the browser's cache (ETag) and any shared cache answer
// again while nothing changed. Web Mercator tiles, as Leaflet and the server number them.
import type { BBox } from './api';

const MAX_LATITUDE = 85.0511287798;

function tileX(lon: number, zoom: number): number {
  return Math.floor(((lon + 180) / 360) * 2 ** zoom);
}

function tileY(lat: number, zoom: number): number {
  const clamped = (Math.max(-MAX_LATITUDE, Math.min(MAX_LATITUDE, lat)) * Math.PI) / 180;
  return Math.floor(
    ((1 - Math.log(Math.tan(clamped) + 1 / Math.cos(clamped)) / Math.PI) / 2) * 2 ** zoom,
  );
}

function tileWest(x: number, zoom: number): number {
  return (x / 2 ** zoom) * 360 - 180;
}

function tileNorth(y: number, zoom: number): number {
  return (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / 2 ** zoom))) * 180) / Math.PI;
}

/** The bounds of the tiles of `zoom` covering `bbox`, a hair inside so that the edges stay in
 *  these tiles, rounded to 6 decimals (as sent). */
export function tileAlignedBBox(bbox: BBox, zoom: number): BBox {
  const [west, south, east, north] = bbox;
  const last = 2 ** zoom - 1;
  const clampTile = (t: number) => Math.max(0, Math.min(last, t));
  const x0 = clampTile(tileX(west, zoom));
  const x1 = clampTile(tileX(east, zoom));
  const y0 = clampTile(tileY(north, zoom));
  const y1 = clampTile(tileY(south, zoom));
  const inside = 1e-6;
  const round = (v: number) => Math.round(v * 1e6) / 1e6;
  return [
    round(tileWest(x0, zoom) + inside),
    round(tileNorth(y1 + 1, zoom) + inside),
    round(tileWest(x1 + 1, zoom) - inside),
    round(tileNorth(y0, zoom) - inside),
  ];
}
