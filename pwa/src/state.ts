// App-wide state in a few tiny observable stores (no state library: a dozen lines do it).
import { useEffect, useState } from 'preact/hooks';
import {
  initialLang,
  saveLang,
  translate,
  type Lang,
  type MessageKey,
  type Params,
} from './i18n';
import {
  listCategories,
  listJurisdictions,
  type Category,
  type CreateReport,
  type Jurisdiction,
} from './api';
import type { StoredPhoto } from './outbox';
import { createStore, type Store } from './store';

export { createStore, type Store };

export function useStore<T>(store: Store<T>): T {
  const [, setTick] = useState(0);
  useEffect(() => store.subscribe(() => setTick((n) => n + 1)), [store]);
  return store.get();
}

export const storage = (() => {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
})();

// --- language ---

export const langStore = createStore<Lang>(initialLang(storage, navigator.languages ?? []));

export function setLang(lang: Lang): void {
  saveLang(storage, lang);
  document.documentElement.lang = lang;
  langStore.set(lang);
}

export type T = (key: MessageKey, params?: Params) => string;

export function useT(): { lang: Lang; t: T } {
  const lang = useStore(langStore);
  return { lang, t: (key, params) => translate(lang, key, params) };
}

// --- connectivity ---

export const onlineStore = createStore<boolean>(navigator.onLine);
window.addEventListener('online', () => onlineStore.set(true));
window.addEventListener('offline', () => onlineStore.set(false));

// --- status messages, read out by the live region ---

export interface Announcement {
  text: string;
  kind: 'info' | 'error';
  id: number;
  at: number;
}
export const announcementStore = createStore<Announcement | null>(null);
let announcementId = 0;
let hideTimer: ReturnType<typeof setTimeout> | undefined;
/** Shows and reads out a message; information fades after a while, errors stay until closed. */
export function announce(text: string, kind: Announcement['kind'] = 'info'): void {
  const id = ++announcementId;
  announcementStore.set({ text, kind, id, at: Date.now() });
  clearTimeout(hideTimer);
  if (kind === 'info') {
    hideTimer = setTimeout(() => {
      if (announcementStore.get()?.id === id) announcementStore.set(null);
    }, 8000);
  }
}

// --- the city and its categories, kept on the device so the report form works offline ---

export interface Catalog {
  jurisdiction: Jurisdiction;
  categories: Category[];
}

const CATALOG_KEY = 'signalons.catalog';

function savedCatalog(): Catalog | null {
  try {
    const raw = storage?.getItem(CATALOG_KEY);
    return raw ? (JSON.parse(raw) as Catalog) : null;
  } catch {
    return null;
  }
}

export const catalogStore = createStore<Catalog | null>(savedCatalog());
export const catalogErrorStore = createStore<string | null>(null);

export async function refreshCatalog(): Promise<void> {
  try {
    const jurisdictions = await listJurisdictions();
    const current = catalogStore.get()?.jurisdiction.slug;
    const jurisdiction = jurisdictions.find((j) => j.slug === current) ?? jurisdictions[0];
    if (!jurisdiction) throw new Error('no jurisdiction is served here');
    const categories = await listCategories(jurisdiction.slug);
    const catalog = { jurisdiction, categories };
    try {
      storage?.setItem(CATALOG_KEY, JSON.stringify(catalog));
    } catch {
      // Storage full or disabled: the catalog is still used for this visit.
    }
    catalogErrorStore.set(null);
    catalogStore.set(catalog);
  } catch (error) {
    catalogErrorStore.set(error instanceof Error ? error.message : String(error));
  }
}

export function categoryName(catalog: Catalog | null, code: string, lang: Lang, fallback?: string) {
  const category = catalog?.categories.find((c) => c.code === code);
  return category?.names[lang] ?? category?.name ?? fallback ?? code;
}

/** Categories by group, both in the order the server gives (it sorts them). */
export function groupCategories(categories: readonly Category[]): [string, Category[]][] {
  const groups = new Map<string, Category[]>();
  for (const category of categories) {
    const list = groups.get(category.group) ?? [];
    list.push(category);
    groups.set(category.group, list);
  }
  return [...groups.entries()];
}

// --- a refused report brought back to the form to be corrected ---

export interface Draft {
  body: CreateReport;
  photo: StoredPhoto | null;
  /** The outbox item it replaces, discarded once the corrected report is queued. */
  replaces: string;
}
export const draftStore = createStore<Draft | null>(null);
