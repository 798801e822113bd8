/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Set by the Tauri CLI for the UI build: linux, windows, macos, android or ios. */
  readonly TAURI_ENV_PLATFORM?: string;
}
