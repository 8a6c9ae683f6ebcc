/// <reference types="vitest/config" />
// Vite builds the browser front end from editor/frontend into static/dist, with a manifest
// that Django's `{% vite_entry %}` tag reads. Every file in src/entries/ is an entry, read
// from disk at config time so that a new page needs no change here.
import { readdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const here = dirname(fileURLToPath(import.meta.url));
const frontendRoot = resolve(here, "editor/frontend");
const entriesDir = resolve(frontendRoot, "src/entries");

function pageEntries(): Record<string, string> {
  const inputs: Record<string, string> = {};
  for (const file of readdirSync(entriesDir).sort()) {
    if (/\.(tsx|ts)$/.test(file) && !file.endsWith(".d.ts")) {
      inputs[file.replace(/\.(tsx|ts)$/, "")] = resolve(entriesDir, file);
    }
  }
  return inputs;
}

export default defineConfig({
  root: frontendRoot,
  base: "/static/dist/",
  plugins: [react()],
  build: {
    outDir: resolve(here, "static/dist"),
    emptyOutDir: true,
    manifest: true,
    sourcemap: true,
    chunkSizeWarningLimit: 2000,
    rollupOptions: { input: pageEntries() },
  },
  test: {
    root: frontendRoot,
    include: ["src/**/*.test.ts", "src/**/*.test.tsx", "tests/**/*.test.ts", "tests/**/*.test.tsx"],
    environment: "node",
  },
});
