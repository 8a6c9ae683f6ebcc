/// <reference types="vitest/config" />
// Vite builds the browser front end from editor/frontend into static/dist, with a manifest
// that Django's `{% vite_entry %}` tag reads. Every file in src/entries/ is an entry, read
// from disk at config time so that a new page needs no change here.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants as zlib, gzipSync } from "node:zlib";

import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

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

// Next to every built script and style sheet, its gzip and brotli forms: WhiteNoise serves
// `x.js.br` / `x.js.gz` to a browser that accepts them (it compresses nothing at request
// time), and a fresh clone needs no separate compression step.
function precompress(): Plugin {
  let outDir = "";
  return {
    name: "flowmaestro-precompress",
    apply: "build",
    configResolved(config) {
      outDir = config.build.outDir;
    },
    writeBundle(_options, bundle) {
      for (const fileName of Object.keys(bundle)) {
        if (!/\.(js|css|svg)$/.test(fileName)) continue;
        const path = resolve(outDir, fileName);
        const raw = readFileSync(path);
        if (raw.length < 1024) continue;
        writeFileSync(`${path}.gz`, gzipSync(raw, { level: 9 }));
        writeFileSync(`${path}.br`, brotliCompressSync(raw, {
          params: { [zlib.BROTLI_PARAM_QUALITY]: raw.length > 1_000_000 ? 9 : 11, [zlib.BROTLI_PARAM_SIZE_HINT]: raw.length },
        }));
      }
    },
  };
}

export default defineConfig({
  root: frontendRoot,
  base: "/static/dist/",
  plugins: [react(), precompress()],
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
