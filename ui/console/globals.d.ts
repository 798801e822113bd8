// The console's vendor scripts are loaded by their own <script> elements before ours (files the
// server serves from /assets/console/), so they are globals here, typed by their npm packages.
declare const maplibregl: typeof import('maplibre-gl');
declare const pmtiles: typeof import('pmtiles');
declare const uPlot: typeof import('uplot');
