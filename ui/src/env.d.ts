/// <reference types="vite/client" />

/** A file as a base64 string (see base64Import in vite.config.ts). */
declare module '*?base64' {
  const data: string;
  export default data;
}
