// Renders the PNG icons from public/icon.svg and public/icon-maskable.svg with Debian's
// chromium. Run by hand after changing the SVGs (`node scripts/make-icons.mjs`); the PNGs are
// committed so that a build needs no browser.
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const targets = [
  ['icon.svg', 'icon-192.png', 192],
  ['icon.svg', 'icon-512.png', 512],
  ['icon.svg', 'apple-touch-icon.png', 180],
  ['icon-maskable.svg', 'icon-maskable-512.png', 512],
];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu'],
});
try {
  for (const [svg, png, size] of targets) {
    const page = await browser.newPage({ viewport: { width: size, height: size } });
    const source = readFileSync(new URL(`../public/${svg}`, import.meta.url), 'utf8');
    await page.setContent(
      `<style>html,body{margin:0;background:transparent}svg{display:block;width:${size}px;height:${size}px}</style>${source}`,
    );
    await page.screenshot({ path: new URL(`../public/${png}`, import.meta.url).pathname, omitBackground: true });
    await page.close();
    console.log(`public/${png} (${size}×${size})`);
  }
} finally {
  await browser.close();
}
