// Everything that touches Leaflet, loaded on demand (import()) so the first screen does not wait
// for it. Three maps: the browse map (the server's clusters of reports), the picker (one
// draggable marker, the duplicate candidates numbered) and the crew's jobs (numbered).
import L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import { tilesStore } from '../config';
import type { BBox, MapCluster } from '../api';
import { spread } from './spread';

/** The server's basemap, followed as it becomes known or changes (none until then). */
function addBasemap(map: L.Map): void {
  let layer: L.TileLayer | null = null;
  const show = () => {
    const tiles = tilesStore.get();
    layer?.remove();
    layer = null;
    map.getContainer().classList.toggle('no-basemap', !tiles?.url);
    if (tiles?.url) {
      layer = L.tileLayer(tiles.url, { maxZoom: 19, attribution: tiles.attribution }).addTo(map);
    }
  };
  show();
  const stop = tilesStore.subscribe(show);
  map.on('unload', stop);
}

/** A numbered marker at its true place. */
interface Numbered {
  marker: L.Marker;
  at: L.LatLng;
}

/**
 * Keeps numbered markers `size` px wide from covering each other at every zoom (see spread.ts),
 * a thin leg from each moved marker to its true place. Returns what stops it.
 */
function keepApart(map: L.Map, layer: L.LayerGroup, markers: readonly Numbered[], size: number): () => void {
  const legs = L.layerGroup().addTo(layer);
  const layout = () => {
    legs.clearLayers();
    const points = markers.map((m) => map.latLngToLayerPoint(m.at));
    // A few pixels between markers, so each keeps its ring and tap target.
    spread(points, size + 4).forEach((p, i) => {
      const { marker, at } = markers[i];
      const moved = Math.abs(p.x - points[i].x) > 0.5 || Math.abs(p.y - points[i].y) > 0.5;
      const shown = moved ? map.layerPointToLatLng(L.point(p.x, p.y)) : at;
      marker.setLatLng(shown);
      if (moved) {
        L.polyline([at, shown], { interactive: false, weight: 2, className: 'leg' }).addTo(legs);
        L.circleMarker(at, { radius: 3, interactive: false, weight: 1, className: 'leg-foot' }).addTo(legs);
      }
    });
  };
  layout();
  map.on('zoomend', layout);
  return () => map.off('zoomend', layout);
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
  /** A lone report the server named. */
  report(id: number): string;
  /** A lone report not named at this zoom. */
  single(): string;
  cluster(count: number): string;
}

/** What the map shows: its bounds and zoom. */
export interface MapView {
  bbox: BBox;
  zoom: number;
}

export interface BrowseMap {
  /** Draws the server's clusters (replacing the previous ones). */
  setClusters(clusters: readonly MapCluster[], labels: MarkerLabels): void;
  setView(lat: number, lon: number, zoom: number): void;
  destroy(): void;
}

export function createBrowseMap(
  element: HTMLElement,
  options: {
    bounds: BBox;
    onMove(view: MapView): void;
    onSelect(id: number): void;
  },
): BrowseMap {
  const map = L.map(element, { minZoom: 3, maxZoom: 19, zoomSnap: 1 });
  addBasemap(map);
  map.fitBounds(boundsOf(options.bounds));
  const layer = L.layerGroup().addTo(map);

  function zoomInto(lat: number, lon: number): void {
    map.setView([lat, lon], Math.min(map.getZoom() + 2, map.getMaxZoom()));
  }

  map.on('moveend', () => options.onMove({ bbox: bboxOf(map), zoom: map.getZoom() }));
  options.onMove({ bbox: bboxOf(map), zoom: map.getZoom() });

  return {
    setClusters(clusters, labels) {
      layer.clearLayers();
      for (const cluster of clusters) {
        const { latitude, longitude, count } = cluster;
        const id = cluster.report_id ?? null;
        if (count === 1) {
          L.marker([latitude, longitude], {
            icon: L.divIcon({
              className: 'pin pin-open',
              html: '<span aria-hidden="true">!</span>',
              iconSize: [30, 30],
              iconAnchor: [15, 15],
            }),
            title: id === null ? labels.single() : labels.report(id),
            riseOnHover: true,
          })
            .on('click', () => (id === null ? zoomInto(latitude, longitude) : options.onSelect(id)))
            .addTo(layer);
        } else {
          const size = count < 10 ? 34 : count < 100 ? 40 : count < 10_000 ? 46 : 54;
          L.marker([latitude, longitude], {
            icon: L.divIcon({
              className: 'cluster',
              html: `<span aria-hidden="true">${escapeHtml(compact(count))}</span>`,
              iconSize: [size, size],
            }),
            title: labels.cluster(count),
          })
            .on('click', () => zoomInto(latitude, longitude))
            .addTo(layer);
        }
      }
    },
    setView(lat, lon, zoom) {
      map.setView([lat, lon], zoom);
    },
    destroy() {
      map.remove();
    },
  };
}

/** 1234 -> "1.2k", 1234567 -> "1.2M": a marker holds a few characters. */
function compact(count: number): string {
  if (count < 1000) return String(count);
  if (count < 1_000_000) return `${(count / 1000).toFixed(count < 10_000 ? 1 : 0)}k`;
  return `${(count / 1_000_000).toFixed(1)}M`;
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
    bounds: BBox;
    markerLabel: string;
    onPick(lat: number, lon: number): void;
  },
): PickerMap {
  const map = L.map(element, { minZoom: 3, maxZoom: 19 });
  addBasemap(map);
  map.fitBounds(boundsOf(options.bounds));
  let marker: L.Marker | null = null;
  let circle: L.Circle | null = null;
  const candidateLayer = L.layerGroup().addTo(map);
  let stopCandidates = () => {};

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
      stopCandidates();
      candidateLayer.clearLayers();
      const numbered = candidates.map((c, index) => {
        const at = L.latLng(c.lat, c.lon);
        const marker = L.marker(at, {
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
        return { marker, at };
      });
      stopCandidates = keepApart(map, candidateLayer, numbered, 26);
    },
    destroy() {
      map.remove();
    },
  };
}

/** A job on the crew's map, numbered as in the list. */
export interface JobMarker {
  id: number;
  lat: number;
  lon: number;
  label: string;
  /** Urgent (priority 1–2) or overdue: drawn with a heavier ring; the label says why. */
  urgent: boolean;
}

export interface JobsMap {
  setJobs(jobs: readonly JobMarker[], here: { lat: number; lon: number } | null): void;
  destroy(): void;
}

export function createJobsMap(
  element: HTMLElement,
  options: { bounds: BBox; onSelect(id: number): void },
): JobsMap {
  const map = L.map(element, { minZoom: 3, maxZoom: 19 });
  addBasemap(map);
  map.fitBounds(boundsOf(options.bounds));
  const layer = L.layerGroup().addTo(map);
  let fitted = false;
  let stopJobs = () => {};
  return {
    setJobs(jobs, here) {
      stopJobs();
      layer.clearLayers();
      const points: L.LatLngExpression[] = [];
      if (here) {
        // Under the jobs: never in the way of a tap.
        L.circleMarker([here.lat, here.lon], {
          radius: 7,
          interactive: false,
          className: 'here',
        }).addTo(layer);
      }
      const numbered = jobs.map((job, index) => {
        const at = L.latLng(job.lat, job.lon);
        points.push(at);
        const marker = L.marker(at, {
          title: job.label,
          alt: job.label,
          riseOnHover: true,
          icon: L.divIcon({
            className: job.urgent ? 'pin pin-job urgent' : 'pin pin-job',
            html: `<span aria-hidden="true">${index + 1}</span>`,
            iconSize: [30, 30],
            iconAnchor: [15, 15],
          }),
        })
          .on('click', () => options.onSelect(job.id))
          .on('keypress', (event: L.LeafletKeyboardEvent) => {
            if (event.originalEvent.key === 'Enter') options.onSelect(job.id);
          })
          .addTo(layer);
        return { marker, at };
      });
      if (!fitted && points.length > 0) {
        fitted = true;
        map.fitBounds(L.latLngBounds(points).pad(0.2), { maxZoom: 16 });
      }
      // After the fit: where they are drawn depends on the zoom.
      stopJobs = keepApart(map, layer, numbered, 30);
    },
    destroy() {
      map.remove();
    },
  };
}
