import { beforeEach, describe, expect, it } from 'vitest';
import {
  CONFIG_KEY,
  refreshClientConfig,
  safeAttribution,
  savedTiles,
  tilesOf,
  tilesStore,
} from '../src/config';

const OSM = 'https://tile.openstreetmap.org/{z}/{x}/{y}.png';
const OSM_ATTRIBUTION = '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';

function memoryStorage(initial: Record<string, string> = {}) {
  const data = new Map(Object.entries(initial));
  return {
    data,
    getItem: (key: string) => data.get(key) ?? null,
    setItem: (key: string, value: string) => void data.set(key, value),
  };
}

describe('the attribution shown on the map', () => {
  it('keeps text and http(s) links, opened in a new tab', () => {
    expect(safeAttribution(OSM_ATTRIBUTION)).toBe(
      '© <a href="https://www.openstreetmap.org/copyright" target="_blank" rel="noopener noreferrer">OpenStreetMap</a> contributors',
    );
    expect(safeAttribution('&copy; Tiles &amp; data')).toBe('© Tiles &#38; data');
  });

  it('drops everything else: scripts, handlers, other schemes', () => {
    const html = safeAttribution(
      '<img src=x onerror="alert(1)">Map <script>alert(2)</script><a href="javascript:alert(3)">evil</a> <a href=\'https://ok.example\' onclick="x()">ok</a>',
    );
    expect(html).not.toMatch(/<img|<script|onerror|onclick|javascript:/i);
    expect(html).toBe(
      'Map alert(2)evil <a href="https://ok.example" target="_blank" rel="noopener noreferrer">ok</a>',
    );
    expect(safeAttribution('<b>&lt;script&gt;</b>')).toBe('&#60;script&#62;');
  });
});

describe('the tiles from the server configuration', () => {
  beforeEach(() => tilesStore.set(null));

  it('reads no URL as no basemap', () => {
    expect(tilesOf({ map_tiles_url: null, map_tiles_attribution: null })).toEqual({ url: '', attribution: '' });
    expect(tilesOf({ map_tiles_url: OSM, map_tiles_attribution: OSM_ATTRIBUTION }).url).toBe(OSM);
  });

  it('uses what the server says, and keeps it for a start without the network', async () => {
    const storage = memoryStorage();
    const answered = await refreshClientConfig(storage, async () => ({
      map_tiles_url: 'https://tiles.example.org/{z}/{x}/{y}.png',
      map_tiles_attribution: '© Example',
    }));
    expect(answered).toBe(true);
    expect(tilesStore.get()).toEqual({ url: 'https://tiles.example.org/{z}/{x}/{y}.png', attribution: '© Example' });
    expect(savedTiles(storage)?.url).toBe('https://tiles.example.org/{z}/{x}/{y}.png');

    // Offline next time: the saved tiles, not nothing.
    tilesStore.set(null);
    const offline = await refreshClientConfig(storage, async () => {
      throw new TypeError('Failed to fetch');
    });
    expect(offline).toBe(false);
    expect(tilesStore.get()?.url).toBe('https://tiles.example.org/{z}/{x}/{y}.png');
  });

  it('follows a change made on the server, even to no basemap', async () => {
    const storage = memoryStorage({
      [CONFIG_KEY]: JSON.stringify({ map_tiles_url: OSM, map_tiles_attribution: OSM_ATTRIBUTION }),
    });
    const seen: (string | undefined)[] = [];
    const stop = tilesStore.subscribe(() => seen.push(tilesStore.get()?.url));
    await refreshClientConfig(storage, async () => ({ map_tiles_url: null, map_tiles_attribution: null }));
    stop();
    // The saved basemap first, then the server's answer.
    expect(seen).toEqual([OSM, '']);
    expect(JSON.parse(storage.data.get(CONFIG_KEY)!)).toEqual({ map_tiles_url: null, map_tiles_attribution: null });
  });

  it('publishes nothing new when nothing changed', async () => {
    const config = { map_tiles_url: OSM, map_tiles_attribution: OSM_ATTRIBUTION };
    const storage = memoryStorage({ [CONFIG_KEY]: JSON.stringify(config) });
    let changes = 0;
    const stop = tilesStore.subscribe(() => changes++);
    await refreshClientConfig(storage, async () => config);
    stop();
    expect(changes).toBe(1);
  });

  it('ignores a damaged saved copy', () => {
    expect(savedTiles(memoryStorage({ [CONFIG_KEY]: '{not json' }))).toBeNull();
    expect(savedTiles(undefined)).toBeNull();
  });
});
