/// <reference types="vitest/config" />
import { defineConfig } from 'vite';

// The Tauri shell loads `dist/` from disk (tauri.conf.json frontendDist) and the dev server
// on a fixed port (devUrl), so the port is strict and the paths are relative.
export default defineConfig({
  base: './',
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
