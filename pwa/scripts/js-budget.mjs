// The JavaScript budget of the first screen: every script dist/index.html loads (module entry
// and modulepreloads), gzipped, must stay within JS_BUDGET_KB (default 150 KB). Lazy chunks (the
// map) are printed too, but only what blocks the first screen counts. Exit 1 above the budget.
import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEFAULT_BUDGET_KB = 150;

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

export const gzipSize = (bytes) => gzipSync(bytes, { level: 9 }).length;

export function checkBudget(sizes, budgetKb) {
  const total = sizes.reduce((sum, s) => sum + s.gzip, 0);
  return { total, ok: total <= budgetKb * 1024 };
}

function main() {
  const dist = fileURLToPath(new URL('../dist/', import.meta.url));
  const budgetKb = Number(process.env.JS_BUDGET_KB ?? DEFAULT_BUDGET_KB);
  const initial = initialScripts(readFileSync(join(dist, 'index.html'), 'utf8'));
  if (initial.length === 0) throw new Error('dist/index.html loads no script');
  const sizes = initial.map((file) => {
    const bytes = readFileSync(join(dist, file));
    return { file, raw: bytes.length, gzip: gzipSize(bytes) };
  });
  const kb = (n) => (n / 1024).toFixed(1);
  for (const s of sizes) console.log(`  initial ${s.file}: ${kb(s.raw)} KB, ${kb(s.gzip)} KB gzipped`);
  const lazy = readdirSync(join(dist, 'assets'))
    .filter((f) => f.endsWith('.js') && !initial.includes(`assets/${f}`))
    .map((f) => ({ f, gzip: gzipSize(readFileSync(join(dist, 'assets', f))) }));
  for (const l of lazy) console.log(`  lazy    assets/${l.f}: ${kb(l.gzip)} KB gzipped`);
  const { total, ok } = checkBudget(sizes, budgetKb);
  console.log(
    `JS budget: initial load ${kb(total)} KB gzipped of ${budgetKb} KB ${ok ? '(ok)' : '(OVER BUDGET)'}`,
  );
  if (!ok) process.exit(1);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
