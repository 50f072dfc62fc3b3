import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The dashboard is served by the binary at /_/ under a strict CSP (script-src 'self'): everything
// must be a file under dist/assets/, never inlined into index.html.
const proxy = {
  '/api': { target: process.env.FERROBASE_URL ?? 'http://127.0.0.1:8090', changeOrigin: true },
};

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

export default defineConfig({
  base: '/_/',
  plugins: [svelte()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    assetsInlineLimit: 0,
    cssCodeSplit: true,
    sourcemap: false,
    target: 'es2022',
    modulePreload: { polyfill: false },
  },
  server: { proxy },
  // `vite preview` sends the same CSP as the binary so a local browser run catches inline code.
  preview: { proxy, headers: { 'Content-Security-Policy': CSP } },
});
