/// <reference types="vitest/config" />
import { readFileSync } from 'node:fs';
import { defineConfig, type Plugin } from 'vite';

/**
 * `import data from 'x.wasm?base64'` gives the file as a base64 string in a JS chunk. The
 * barcode reader uses it to hand ZXing its wasm as bytes, because the app's CSP allows no
 * fetch of app assets (connect-src is IPC only). Imported lazily, so it is its own chunk.
 */
function base64Import(): Plugin {
  const SUFFIX = '?base64';
  return {
    name: 'doorstep-base64-import',
    enforce: 'pre',
    async resolveId(id, importer) {
      if (!id.endsWith(SUFFIX)) return null;
      const resolved = await this.resolve(id.slice(0, -SUFFIX.length), importer, { skipSelf: true });
      return resolved ? resolved.id + SUFFIX : null;
    },
    load(id) {
      if (!id.endsWith(SUFFIX)) return null;
      const data = readFileSync(id.slice(0, -SUFFIX.length)).toString('base64');
      return `export default ${JSON.stringify(data)};`;
    },
  };
}

// The Tauri shell loads `dist/` from disk (tauri.conf.json frontendDist) and the dev server
// on a fixed port (devUrl), so the port is strict and the paths are relative.
export default defineConfig({
  base: './',
  plugins: [base64Import()],
  clearScreen: false,
  server: { port: 5173, strictPort: true, host: process.env.TAURI_DEV_HOST || false },
  preview: { port: 4173, strictPort: false },
  envPrefix: ['VITE_', 'TAURI_ENV_'],
  build: {
    target: ['es2021', 'safari15', 'chrome105'],
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    assetsInlineLimit: 0,
    reportCompressedSize: true,
  },
  test: {
    environment: 'happy-dom',
    include: ['tests/unit/**/*.test.ts'],
  },
});
