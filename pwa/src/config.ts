// The deployment's settings for this app, from the server (`GET /api/v1/config`): the map's
// background tiles. Not in index.html, which the service worker precaches: an operator's change
// would only reach installed apps with a new build. Read at each start while online, and kept
// in localStorage for a start without the network. An empty tile URL means no basemap (how the
// tests run: nothing leaves the machine).
import type { ClientConfig } from './api';
import { createStore } from './store';

export interface TileConfig {
  /** A URL template with {z}/{x}/{y}; '' for no basemap. */
  url: string;
  /** Safe HTML: text and http(s) links only. */
  attribution: string;
}

export const CONFIG_KEY = 'signalons.config';

/** The tiles as the server gives them, the attribution made safe to show. */
export function tilesOf(config: ClientConfig): TileConfig {
  const url = config.map_tiles_url?.trim() ?? '';
  return { url, attribution: url ? safeAttribution(config.map_tiles_attribution ?? '') : '' };
}

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  copy: '©',
};

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : Number(name.slice(1));
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A fragment's text: tags dropped, entities read, then escaped again. */
const textOf = (fragment: string) => escapeHtml(decodeEntities(fragment.replace(/<[^>]*>/g, '')));

/**
 * The attribution as HTML the map may insert: its text and its http(s) links (opened in a new
 * tab, so an installed app is not left), nothing else — the setting is the operator's, but a
 * mistake there must not become a script in every resident's phone.
 */
export function safeAttribution(html: string): string {
  let out = '';
  let last = 0;
  for (const match of html.matchAll(/<a\b([^>]*)>([\s\S]*?)<\/a\s*>/gi)) {
    out += textOf(html.slice(last, match.index));
    const href = /\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')/i.exec(match[1]);
    const url = decodeEntities(href?.[1] ?? href?.[2] ?? '').trim();
    const label = textOf(match[2]);
    out += /^https?:\/\/[^\s]+$/i.test(url)
      ? `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${label}</a>`
      : label;
    last = match.index + match[0].length;
  }
  return (out + textOf(html.slice(last))).trim();
}

interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** The tiles last received, if any (null: this device never heard from the server). */
export function savedTiles(storage: KeyValueStorage | undefined): TileConfig | null {
  try {
    const raw = storage?.getItem(CONFIG_KEY);
    return raw ? tilesOf(JSON.parse(raw) as ClientConfig) : null;
  } catch {
    return null;
  }
}

/** The map's tiles: null until known (the maps then wait for them, without a basemap). */
export const tilesStore = createStore<TileConfig | null>(null);

/**
 * Asks the server for its configuration; kept and published when it answers, the saved one
 * published otherwise. Resolves to whether the server answered.
 */
export async function refreshClientConfig(
  storage: KeyValueStorage | undefined,
  fetchConfig: () => Promise<ClientConfig>,
): Promise<boolean> {
  if (tilesStore.get() === null) {
    const saved = savedTiles(storage);
    if (saved) tilesStore.set(saved);
  }
  try {
    const config = await fetchConfig();
    try {
      storage?.setItem(CONFIG_KEY, JSON.stringify(config));
    } catch {
      // Storage full or disabled: used for this visit only.
    }
    const tiles = tilesOf(config);
    const current = tilesStore.get();
    if (current?.url !== tiles.url || current.attribution !== tiles.attribution) tilesStore.set(tiles);
    return true;
  } catch {
    return false;
  }
}
