// Everything that touches Leaflet, loaded on demand (import()) so the first screen does not wait
// for it. Two maps: the browse map (reports, clustered) and the picker (one draggable marker).
import L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import { gridCluster } from '../cluster';
import type { TileConfig } from '../config';
import type { BBox, Report } from '../api';
import { statusSymbol, statusTone } from '../status';

const CLUSTER_CELL_PX = 56;

function addBasemap(map: L.Map, tiles: TileConfig): void {
  if (!tiles.url) {
    map.getContainer().classList.add('no-basemap');
    return;
  }
  L.tileLayer(tiles.url, { maxZoom: 19, attribution: tiles.attribution }).addTo(map);
}

function boundsOf(bbox: BBox): L.LatLngBoundsExpression {
  const [west, south, east, north] = bbox;
  return [
    [south, west],
    [north, east],
  ];
}

function bboxOf(map: L.Map): BBox {
  const b = map.getBounds();
  const clamp = (v: number, limit: number) => Math.max(-limit, Math.min(limit, v));
  return [
    clamp(b.getWest(), 180),
    clamp(b.getSouth(), 90),
    clamp(b.getEast(), 180),
    clamp(b.getNorth(), 90),
  ];
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface MarkerLabels {
  report(report: Report): string;
  cluster(count: number): string;
}

export interface BrowseMap {
  setReports(reports: readonly Report[], labels: MarkerLabels): void;
  setView(lat: number, lon: number, zoom: number): void;
  destroy(): void;
}

export function createBrowseMap(
  element: HTMLElement,
  options: {
    tiles: TileConfig;
    bounds: BBox;
    onMove(bbox: BBox): void;
    onSelect(id: number): void;
  },
): BrowseMap {
  const map = L.map(element, { minZoom: 3, maxZoom: 19, zoomSnap: 1 });
  addBasemap(map, options.tiles);
  map.fitBounds(boundsOf(options.bounds));
  const layer = L.layerGroup().addTo(map);
  let reports: readonly Report[] = [];
  let labels: MarkerLabels | null = null;

  function draw(): void {
    layer.clearLayers();
    if (!labels) return;
    const zoom = map.getZoom();
    const clusters = gridCluster(
      reports,
      (r) => map.project([r.latitude, r.longitude], zoom),
      CLUSTER_CELL_PX,
    );
    for (const cluster of clusters) {
      if (cluster.items.length === 1) {
        const report = cluster.items[0];
        const tone = statusTone(report.status);
        L.marker([report.latitude, report.longitude], {
          icon: L.divIcon({
            className: `pin pin-${tone}`,
            html: `<span aria-hidden="true">${escapeHtml(statusSymbol(report.status))}</span>`,
            iconSize: [30, 30],
            iconAnchor: [15, 15],
          }),
          title: labels.report(report),
          riseOnHover: true,
        })
          .on('click', () => options.onSelect(report.id))
          .addTo(layer);
      } else {
        const count = cluster.items.length;
        const size = count < 10 ? 34 : count < 100 ? 40 : 46;
        L.marker(map.unproject([cluster.x, cluster.y], zoom), {
          icon: L.divIcon({
            className: 'cluster',
            html: `<span aria-hidden="true">${count}</span>`,
            iconSize: [size, size],
          }),
          title: labels.cluster(count),
        })
          .on('click', () => {
            const bounds = L.latLngBounds(cluster.items.map((r) => [r.latitude, r.longitude]));
            const target = map.getBoundsZoom(bounds.pad(0.3));
            if (target > zoom) map.fitBounds(bounds.pad(0.3));
            else map.setView(bounds.getCenter(), Math.min(zoom + 2, map.getMaxZoom()));
          })
          .addTo(layer);
      }
    }
  }

  map.on('zoomend', draw);
  map.on('moveend', () => options.onMove(bboxOf(map)));
  options.onMove(bboxOf(map));

  return {
    setReports(next, nextLabels) {
      reports = next;
      labels = nextLabels;
      draw();
    },
    setView(lat, lon, zoom) {
      map.setView([lat, lon], zoom);
    },
    destroy() {
      map.remove();
    },
  };
}

/** A problem already reported, drawn on the picker beside the new marker. */
export interface PickerCandidate {
  id: number;
  lat: number;
  lon: number;
  label: string;
}

export interface PickerMap {
  setPosition(lat: number, lon: number, accuracy: number | null, recenter: boolean): void;
  /** Numbered markers for the duplicate candidates, the same numbers as the list. */
  setCandidates(candidates: readonly PickerCandidate[]): void;
  destroy(): void;
}

export function createPickerMap(
  element: HTMLElement,
  options: {
    tiles: TileConfig;
    bounds: BBox;
    markerLabel: string;
    onPick(lat: number, lon: number): void;
  },
): PickerMap {
  const map = L.map(element, { minZoom: 3, maxZoom: 19 });
  addBasemap(map, options.tiles);
  map.fitBounds(boundsOf(options.bounds));
  let marker: L.Marker | null = null;
  let circle: L.Circle | null = null;
  const candidateLayer = L.layerGroup().addTo(map);

  function place(lat: number, lon: number): L.Marker {
    if (!marker) {
      marker = L.marker([lat, lon], {
        draggable: true,
        autoPan: true,
        title: options.markerLabel,
        icon: L.divIcon({
          className: 'pin pin-new',
          html: '<span aria-hidden="true">+</span>',
          iconSize: [34, 34],
          iconAnchor: [17, 17],
        }),
      }).addTo(map);
      marker.on('dragend', () => {
        const p = marker!.getLatLng();
        circle?.remove();
        circle = null;
        options.onPick(p.lat, p.lng);
      });
    } else {
      marker.setLatLng([lat, lon]);
    }
    return marker;
  }

  map.on('click', (event: L.LeafletMouseEvent) => {
    place(event.latlng.lat, event.latlng.lng);
    circle?.remove();
    circle = null;
    options.onPick(event.latlng.lat, event.latlng.lng);
  });

  return {
    setPosition(lat, lon, accuracy, recenter) {
      place(lat, lon);
      circle?.remove();
      circle = null;
      if (accuracy !== null && accuracy > 0) {
        circle = L.circle([lat, lon], {
          radius: accuracy,
          interactive: false,
          weight: 1,
          className: 'accuracy',
        }).addTo(map);
      }
      if (recenter) {
        map.setView([lat, lon], Math.max(map.getZoom(), accuracy && accuracy > 150 ? 15 : 17));
      }
    },
    setCandidates(candidates) {
      candidateLayer.clearLayers();
      candidates.forEach((c, index) => {
        L.marker([c.lat, c.lon], {
          // Information only: the list below the map is where the choice is made.
          interactive: false,
          keyboard: false,
          title: c.label,
          icon: L.divIcon({
            className: 'pin pin-candidate',
            html: `<span aria-hidden="true">${index + 1}</span>`,
            iconSize: [26, 26],
            iconAnchor: [13, 13],
          }),
        }).addTo(candidateLayer);
      });
    },
    destroy() {
      map.remove();
    },
  };
}
