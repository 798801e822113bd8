// The fleet console's Today page: the day's stops coloured by state and each courier's last known
// position on a MapLibre map, refreshed every 20 seconds with the couriers' progress table,
// without a reload. The page is whole without this script (the table and the route lists are
// server-rendered); this only draws the map and keeps both up to date.
//
// The map element says where everything is (data attributes written by the server):
//   data-data      the day's JSON (/fleet/today.json?date=…)
//   data-worker    MapLibre's worker script (a file, for Content-Security-Policy default-src 'self')
//   data-tiles     the operator's PMTiles archive (--map-tiles), if any: a Protomaps basemap
//   data-basemap   otherwise, the world's land as GeoJSON (Natural Earth)
// and gets back, for tests and for whoever looks: data-state="ready" once a day is drawn,
// data-stops (stops on the map) and data-couriers (positions on the map).

import type { FeatureCollection, Point } from 'geojson';
import type { GeoJSONSource, LngLatBoundsLike, LngLatLike, Map as MapLibreMap, StyleSpecification } from 'maplibre-gl';

/** A courier's line of the progress table (texts formatted by the server). */
interface CourierRow {
  id: string;
  name: string;
  done: number;
  failed: number;
  left: number;
  last_record: string;
  last_sync: string;
  position: string;
}

interface Today {
  date: string;
  stops: FeatureCollection<Point, { stop: string; state: string; courier: string; seq: number; address: string }>;
  positions: FeatureCollection<Point, { name: string; age: string }>;
  couriers: CourierRow[];
}

const REFRESH_MS = 20_000;
const STATE_COLOURS = ['match', ['get', 'state'],
  'to_deliver', '#0b5cad', 'delivered', '#1a7f37', 'failed', '#b3261e', 'locked', '#6f42c1', 'returning', '#9a4b00',
  '#57606a'] as const;

const box = document.getElementById('map');
if (box) start(box);

function start(el: HTMLElement): void {
  const abs = (path: string) => new URL(path, location.href).href;
  const dataUrl = el.dataset.data ?? '';
  maplibregl.setWorkerUrl(abs(el.dataset.worker ?? ''));
  let map: MapLibreMap;
  try {
    map = new maplibregl.Map({
      container: el,
      style: baseStyle(el.dataset.tiles ? abs(el.dataset.tiles) : undefined, abs(el.dataset.basemap ?? '')),
      center: [0, 20],
      zoom: 1,
      attributionControl: { compact: true },
    });
  } catch (e) {
    // No WebGL (an old or locked-down browser): the list below has the same data.
    notice(el, 'The map cannot be drawn in this browser (it needs WebGL). The table below has the same data.');
    console.warn('map', e);
    return;
  }
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
  map.on('error', (e) => console.warn('map', e.error?.message ?? e));

  let fitted = false;
  const draw = (day: Today) => {
    (map.getSource('stops') as GeoJSONSource | undefined)?.setData(day.stops);
    (map.getSource('positions') as GeoJSONSource | undefined)?.setData(day.positions);
    el.dataset.stops = String(day.stops.features.length);
    el.dataset.couriers = String(day.positions.features.length);
    if (!fitted) {
      const bounds = boundsOf([...day.stops.features, ...day.positions.features].map((f) => f.geometry.coordinates));
      if (bounds) map.fitBounds(bounds, { padding: 40, maxZoom: 15, duration: 0 });
      fitted = true;
    }
    map.once('idle', () => { el.dataset.state = 'ready'; });
    map.triggerRepaint();
    renderTable(day.couriers);
  };

  map.on('load', async () => {
    map.addSource('stops', { type: 'geojson', data: empty() });
    map.addSource('positions', { type: 'geojson', data: empty() });
    map.addLayer({
      id: 'stops', type: 'circle', source: 'stops',
      paint: {
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, 3, 14, 7],
        'circle-color': STATE_COLOURS as unknown as string,
        'circle-stroke-color': '#ffffff', 'circle-stroke-width': 1,
      },
    });
    map.addLayer({
      id: 'positions', type: 'circle', source: 'positions',
      paint: { 'circle-radius': 8, 'circle-color': '#1b1f24', 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 3 },
    });
    for (const layer of ['stops', 'positions']) {
      map.on('mouseenter', layer, () => { map.getCanvas().style.cursor = 'pointer'; });
      map.on('mouseleave', layer, () => { map.getCanvas().style.cursor = ''; });
    }
    map.on('click', 'stops', (e) => {
      const p = e.features?.[0]?.properties;
      if (!p) return;
      popup(map, e.lngLat, `${p.courier} · stop ${p.seq}`, `${p.address} — ${String(p.state).replace('_', ' ')}`);
    });
    map.on('click', 'positions', (e) => {
      const p = e.features?.[0]?.properties;
      if (p) popup(map, e.lngLat, String(p.name), `last known position, ${p.age} old`);
    });
    const first = await fetchDay(dataUrl);
    if (first) draw(first);
    every(REFRESH_MS, async () => {
      const day = await fetchDay(dataUrl);
      if (day) draw(day);
    });
  });
}

/** The basemap: the operator's Protomaps tiles, or the world's land. */
function baseStyle(tiles: string | undefined, land: string): StyleSpecification {
  if (tiles) {
    const protocol = new pmtiles.Protocol();
    maplibregl.addProtocol('pmtiles', protocol.tile);
    return {
      version: 8,
      sources: { base: { type: 'vector', url: `pmtiles://${tiles}`, attribution: '© OpenStreetMap contributors' } },
      layers: [
        { id: 'background', type: 'background', paint: { 'background-color': '#f2efe9' } },
        { id: 'earth', type: 'fill', source: 'base', 'source-layer': 'earth', paint: { 'fill-color': '#f2efe9' } },
        { id: 'landuse', type: 'fill', source: 'base', 'source-layer': 'landuse', paint: { 'fill-color': '#e3ead9', 'fill-opacity': 0.7 } },
        { id: 'water', type: 'fill', source: 'base', 'source-layer': 'water', paint: { 'fill-color': '#b9d3e6' } },
        { id: 'buildings', type: 'fill', source: 'base', 'source-layer': 'buildings', minzoom: 14, paint: { 'fill-color': '#dcd7cf' } },
        { id: 'roads-minor', type: 'line', source: 'base', 'source-layer': 'roads', filter: ['!', ['in', ['get', 'kind'], ['literal', ['highway', 'major_road']]]], paint: { 'line-color': '#ffffff', 'line-width': ['interpolate', ['linear'], ['zoom'], 12, 0.5, 16, 4] } },
        { id: 'roads-major', type: 'line', source: 'base', 'source-layer': 'roads', filter: ['in', ['get', 'kind'], ['literal', ['highway', 'major_road']]], paint: { 'line-color': '#f7d79b', 'line-width': ['interpolate', ['linear'], ['zoom'], 8, 0.8, 16, 7] } },
      ],
    };
  }
  return {
    version: 8,
    sources: { land: { type: 'geojson', data: land, attribution: 'Natural Earth' } },
    layers: [
      { id: 'sea', type: 'background', paint: { 'background-color': '#dbe7f0' } },
      { id: 'land', type: 'fill', source: 'land', paint: { 'fill-color': '#f4f1ea', 'fill-outline-color': '#b8c4cc' } },
    ],
  };
}

/** The day from the server; `undefined` when it cannot be had now (said on the page). */
async function fetchDay(url: string): Promise<Today | undefined> {
  const box = document.getElementById('map');
  try {
    const r = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } });
    if (r.redirected || r.status === 401 || r.status === 403) {
      notice(box, 'Signed out: reload the page to sign in again.');
      return undefined;
    }
    if (!r.ok) throw new Error(`the server answered ${r.status}`);
    const day = (await r.json()) as Today;
    notice(box, undefined);
    return day;
  } catch {
    // The server is restarting or the network is down: say since when, and try again.
    const at = new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    notice(box, `Could not reach the server at ${at}: the map and the table show the day as it was. Trying again every 20 seconds.`);
    return undefined;
  }
}

/** Calls `f` every `ms` while the page is visible (a hidden tab costs nothing), and at once when it shows again. */
function every(ms: number, f: () => Promise<void>): void {
  let timer: number | undefined;
  const arm = () => { timer = window.setTimeout(async () => { await f(); arm(); }, ms); };
  document.addEventListener('visibilitychange', () => {
    window.clearTimeout(timer);
    if (document.visibilityState === 'visible') void f().then(arm);
  });
  arm();
}

/** Rewrites the progress table's rows from the day's data (text only, never markup). */
function renderTable(rows: CourierRow[]): void {
  const body = document.querySelector<HTMLTableSectionElement>('#progress tbody');
  if (!body) return;
  const date = new URLSearchParams(location.search).get('date');
  const fresh = rows.map((c) => {
    const tr = document.createElement('tr');
    tr.dataset.courier = c.id;
    const name = document.createElement('td');
    const a = document.createElement('a');
    a.href = `/fleet/today/${encodeURIComponent(c.id)}${date ? `?date=${encodeURIComponent(date)}` : ''}`;
    a.textContent = c.name;
    name.append(a);
    tr.append(name);
    for (const [field, value, num] of [
      ['done', c.done, true], ['failed', c.failed, true], ['left', c.left, true],
      ['last_record', c.last_record, false], ['last_sync', c.last_sync, false], ['position', c.position, false],
    ] as const) {
      const td = document.createElement('td');
      td.dataset.field = field;
      if (num) td.className = 'num';
      td.textContent = String(value);
      tr.append(td);
    }
    return tr;
  });
  body.replaceChildren(...fresh);
}

function popup(map: MapLibreMap, at: LngLatLike, title: string, text: string): void {
  const div = document.createElement('div');
  const strong = document.createElement('strong');
  strong.textContent = title;
  div.append(strong, document.createElement('br'), text);
  new maplibregl.Popup({ closeButton: true }).setLngLat(at).setDOMContent(div).addTo(map);
}

/** Shows `text` under the map in place of the notice before, or takes the notice away. */
function notice(el: HTMLElement | null, text: string | undefined): void {
  const host = el?.parentElement ?? el;
  if (!host) return;
  host.querySelector(':scope > p.notice[data-map-notice]')?.remove();
  if (!text) return;
  const p = document.createElement('p');
  p.className = 'warn notice';
  p.dataset.mapNotice = '';
  p.setAttribute('role', 'status');
  p.textContent = text;
  host.append(p);
}

function empty(): FeatureCollection { return { type: 'FeatureCollection', features: [] }; }

function boundsOf(points: number[][]): LngLatBoundsLike | undefined {
  if (!points.length) return undefined;
  let [w, s, e, n] = [180, 90, -180, -90];
  for (const [lon = 0, lat = 0] of points) {
    w = Math.min(w, lon); e = Math.max(e, lon); s = Math.min(s, lat); n = Math.max(n, lat);
  }
  return [[w, s], [e, n]];
}
