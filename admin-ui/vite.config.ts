import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The dashboard is served by the binary at /_/ under a strict CSP (script-src 'self'): everything
// must be a file under dist/assets/, never inlined into index.html.
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
  server: {
    proxy: {
      '/api': { target: process.env.FERROBASE_URL ?? 'http://127.0.0.1:8090', changeOrigin: true },
    },
  },
});
