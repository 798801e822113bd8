// Builds the fleet console's browser assets into crates/server/assets/console/, which the dispatch
// server embeds at compile time (include_bytes!), so `cargo build -p doorstep-server` needs no Node
// and the server stays one self-contained binary. The output is committed; `--check` builds into a
// scratch folder and fails if it differs from what is committed (the test command runs it).
//
//   npm run build:console --prefix ui          rebuild (then commit crates/server/assets/console)
//   node ui/console/build.mjs --check          are the committed assets built from these sources?
//
// What goes in:
//   today.js, numbers.js   ui/console/*.ts, bundled and minified by esbuild
//   maplibre-gl-csp*.js    MapLibre GL JS 4.7.1, its CSP build (the worker is a file of its own,
//                          not a blob: URL, so the console runs under default-src 'self'), and its CSS
//   pmtiles.js             the PMTiles reader (Range requests to the operator's --map-tiles archive)
//   uPlot.iife.min.js      the numbers page's charts, and its CSS
//   world-land.geojson     the world's land (Natural Earth 1:110m, public domain, via npm world-atlas):
//                          the basemap when the operator supplies no tiles
import { build } from 'esbuild';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { feature } from 'topojson-client';

const here = dirname(fileURLToPath(import.meta.url));
const ui = join(here, '..');
const target = join(ui, '..', 'crates', 'server', 'assets', 'console');
const check = process.argv.includes('--check');
const out = check ? mkdtempSync(join(tmpdir(), 'console-assets-')) : target;
mkdirSync(out, { recursive: true });

const nm = (p) => join(ui, 'node_modules', p);
/** A vendor file, without its source-map comment (the map is not shipped). */
function vendor(from, name) {
  const text = readFileSync(nm(from), 'utf8').replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n');
  writeFileSync(join(out, name), text);
}
vendor('maplibre-gl/dist/maplibre-gl-csp.js', 'maplibre-gl-csp.js');
vendor('maplibre-gl/dist/maplibre-gl-csp-worker.js', 'maplibre-gl-csp-worker.js');
vendor('maplibre-gl/dist/maplibre-gl.css', 'maplibre-gl.css');
vendor('pmtiles/dist/pmtiles.js', 'pmtiles.js');
vendor('uplot/dist/uPlot.iife.min.js', 'uPlot.iife.min.js');
vendor('uplot/dist/uPlot.min.css', 'uPlot.min.css');

// The land, as GeoJSON with coordinates to 0.01° (about 1 km, finer than 1:110m's lines).
const topo = JSON.parse(readFileSync(nm('world-atlas/land-110m.json'), 'utf8'));
const land = feature(topo, topo.objects.land);
const round = (c) => (typeof c[0] === 'number' ? c.map((v) => Math.round(v * 100) / 100) : c.map(round));
for (const f of land.features) f.geometry.coordinates = round(f.geometry.coordinates);
writeFileSync(join(out, 'world-land.geojson'), JSON.stringify(land));

const scripts = readdirSync(here).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
await build({
  entryPoints: scripts.map((f) => join(here, f)),
  outdir: out,
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  legalComments: 'none',
  logLevel: 'warning',
});

if (check) {
  const names = (dir) => readdirSync(dir).filter((f) => f !== 'README.md').sort();
  const built = names(out);
  const committed = names(target);
  const differ = [...new Set([...built, ...committed])].filter((f) => {
    try {
      return !readFileSync(join(out, f)).equals(readFileSync(join(target, f)));
    } catch {
      return true;
    }
  });
  rmSync(out, { recursive: true, force: true });
  if (differ.length) {
    console.error(`the console's committed assets differ from their sources: ${differ.join(', ')}`);
    console.error('rebuild them with `npm run build:console --prefix ui` and commit crates/server/assets/console');
    process.exit(1);
  }
  console.log(`the console's ${built.length} assets match their sources`);
}
