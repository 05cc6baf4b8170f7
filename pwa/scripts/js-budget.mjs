// The JavaScript budget of the first screen on a phone: every script the landing route (`/`,
// the map) loads before it is usable — the module entry and its preloads from dist/index.html,
// and the chunks the map screen imports at once (Leaflet and our map code), with what they
// import — gzipped, must stay within JS_BUDGET_KB (default 150 KB). Lazy chunks of other
// screens (the crews') and the service worker are printed, not counted. Exit 1 above the
// budget. The end-to-end suite checks that a 360×640 phone opening `/` loads exactly these.
import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEFAULT_BUDGET_KB = 150;

/** What the landing screen imports as soon as it opens (sources, as the Vite manifest names
 *  them): src/screens/MapScreen.tsx loads the map through src/map/useLazyMap.ts. */
export const FIRST_SCREEN_IMPORTS = ['src/map/leaflet.ts'];

/** The same-origin scripts an HTML page loads before it runs: module scripts and preloads. */
export function initialScripts(html) {
  const found = new Set();
  const tag = /<(script|link)\b[^>]*>/gi;
  for (const [element, name] of html.matchAll(tag)) {
    const attr = (a) => new RegExp(`\\b${a}\\s*=\\s*["']([^"']+)["']`, 'i').exec(element)?.[1];
    const url = name.toLowerCase() === 'script' ? attr('src') : attr('href');
    if (!url || /^[a-z]+:\/\//i.test(url)) continue;
    const isScript = name.toLowerCase() === 'script';
    const rel = attr('rel');
    if (isScript || rel === 'modulepreload') found.add(url.replace(/^\//, ''));
  }
  return [...found];
}

/** The file of a manifest entry and of every chunk it imports statically, recursively. */
export function chunkFiles(manifest, key, into = new Set()) {
  const chunk = manifest[key];
  if (!chunk) throw new Error(`${key} is not in the build's manifest (renamed? update FIRST_SCREEN_IMPORTS)`);
  if (into.has(chunk.file)) return into;
  into.add(chunk.file);
  for (const imported of chunk.imports ?? []) chunkFiles(manifest, imported, into);
  return into;
}

/** Every script of the first screen: the page's own, then those of its first imports. */
export function firstScreenScripts(html, manifest, imports = FIRST_SCREEN_IMPORTS) {
  const files = new Set(initialScripts(html));
  for (const source of imports) chunkFiles(manifest, source, files);
  return [...files];
}

export const gzipSize = (bytes) => gzipSync(bytes, { level: 9 }).length;

export function checkBudget(sizes, budgetKb) {
  const total = sizes.reduce((sum, s) => sum + s.gzip, 0);
  return { total, ok: total <= budgetKb * 1024 };
}

/** The first screen's scripts in `dist`, with their sizes. */
export function measureFirstScreen(dist) {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const manifest = JSON.parse(readFileSync(join(dist, '.vite', 'manifest.json'), 'utf8'));
  const files = firstScreenScripts(html, manifest);
  if (files.length === 0) throw new Error('dist/index.html loads no script');
  return files.map((file) => {
    const bytes = readFileSync(join(dist, file));
    return { file, raw: bytes.length, gzip: gzipSize(bytes) };
  });
}

function main() {
  const dist = fileURLToPath(new URL('../dist/', import.meta.url));
  const budgetKb = Number(process.env.JS_BUDGET_KB ?? DEFAULT_BUDGET_KB);
  const sizes = measureFirstScreen(dist);
  const kb = (n) => (n / 1024).toFixed(1);
  for (const s of sizes) console.log(`  first screen  ${s.file}: ${kb(s.raw)} KB, ${kb(s.gzip)} KB gzipped`);
  const counted = new Set(sizes.map((s) => s.file));
  for (const f of readdirSync(join(dist, 'assets')).filter((f) => f.endsWith('.js'))) {
    if (!counted.has(`assets/${f}`)) {
      console.log(`  other screens assets/${f}: ${kb(gzipSize(readFileSync(join(dist, 'assets', f))))} KB gzipped`);
    }
  }
  console.log(
    `  service worker sw.js: ${kb(gzipSize(readFileSync(join(dist, 'sw.js'))))} KB gzipped (installed after the first screen)`,
  );
  const { total, ok } = checkBudget(sizes, budgetKb);
  console.log(
    `JS budget: first screen (/, 360×640) ${kb(total)} KB gzipped of ${budgetKb} KB ${ok ? '(ok)' : '(OVER BUDGET)'}`,
  );
  if (!ok) process.exit(1);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
