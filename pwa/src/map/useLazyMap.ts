// Loads Leaflet on demand and keeps one map in `element` while the city's box is known; the
// screen gets the map (or null) and whether loading failed. Leaflet stays out of the first load.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { BBox } from '../api';

type MapModule = typeof import('./leaflet');

export function useLazyMap<M extends { destroy(): void }>(
  bbox: BBox | undefined,
  create: (module: MapModule, element: HTMLElement, bbox: BBox) => M,
): { element: { current: HTMLDivElement | null }; map: M | null; failed: boolean } {
  const element = useRef<HTMLDivElement>(null);
  const [map, setMap] = useState<M | null>(null);
  const [failed, setFailed] = useState(false);
  const key = bbox?.join(',');

  useEffect(() => {
    if (!bbox || !element.current) return;
    let cancelled = false;
    let created: M | null = null;
    import('./leaflet')
      .then((module) => {
        if (cancelled || !element.current) return;
        created = create(module, element.current, bbox);
        setMap(created);
      })
      .catch(() => {
        if (!cancelled) setFailed(true);
      });
    return () => {
      cancelled = true;
      created?.destroy();
      setMap(null);
    };
  }, [key]);

  return { element, map, failed };
}
