// Deployment configuration read from index.html, so an operator changes it without rebuilding:
//   <meta name="signalons-tiles" content="https://tile.example.org/{z}/{x}/{y}.png">
//   <meta name="signalons-tiles-attribution" content="© ...">
// An empty tile URL means no basemap (how the tests run: nothing leaves the machine).

function meta(name: string): string | null {
  const element = document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`);
  return element ? element.content.trim() : null;
}

export interface TileConfig {
  url: string;
  attribution: string;
}

export function tileConfig(): TileConfig {
  return {
    url: meta('signalons-tiles') ?? '',
    attribution: meta('signalons-tiles-attribution') ?? '',
  };
}
