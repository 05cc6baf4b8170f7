import { describe, expect, it } from 'vitest';
import { checkBudget, firstScreenScripts, initialScripts } from '../scripts/js-budget.mjs';
import { statusQuery } from '../src/status';

describe('JS budget', () => {
  it('counts the module entry and its preloads, not lazy chunks or other links', () => {
    const html = `<head>
      <script type="module" crossorigin src="/assets/index-abc.js"></script>
      <link rel="modulepreload" crossorigin href="/assets/vendor-def.js">
      <link rel="stylesheet" href="/assets/index.css">
      <link rel="manifest" href="/manifest.webmanifest">
      <script src="https://example.org/x.js"></script>
    </head>`;
    expect(initialScripts(html)).toEqual(['assets/index-abc.js', 'assets/vendor-def.js']);
  });

  it('counts what the first screen imports at once too, with what those import', () => {
    const html = '<script type="module" src="/assets/index-abc.js"></script>';
    const manifest = {
      'index.html': { file: 'assets/index-abc.js', dynamicImports: ['src/map/leaflet.ts', 'src/crew/CrewApp.tsx'] },
      'src/map/leaflet.ts': { file: 'assets/leaflet-1.js', imports: ['index.html', '_geo.js'] },
      '_geo.js': { file: 'assets/geo-2.js', imports: ['index.html'] },
      'src/crew/CrewApp.tsx': { file: 'assets/CrewApp-3.js', imports: ['index.html'] },
    };
    expect(firstScreenScripts(html, manifest, ['src/map/leaflet.ts'])).toEqual([
      'assets/index-abc.js',
      'assets/leaflet-1.js',
      'assets/geo-2.js',
    ]);
    // A first import the build no longer has fails loudly rather than counting nothing.
    expect(() => firstScreenScripts(html, manifest, ['src/map/renamed.ts'])).toThrow(/manifest/);
  });

  it('fails above the budget', () => {
    expect(checkBudget([{ gzip: 100 * 1024 }, { gzip: 50 * 1024 }], 150).ok).toBe(true);
    expect(checkBudget([{ gzip: 100 * 1024 }, { gzip: 50 * 1024 + 1 }], 150).ok).toBe(false);
  });
});

describe('status filter', () => {
  it('maps choices to the status query', () => {
    expect(statusQuery('')).toBeUndefined();
    expect(statusQuery('open')).toBe('submitted,acknowledged,scheduled,in_progress,reopened');
    expect(statusQuery('closed')).toBe('resolved,duplicate,not_responsible,rejected');
    expect(statusQuery('resolved')).toBe('resolved');
  });
});
