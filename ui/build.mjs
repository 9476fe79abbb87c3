// Bundles the console for the gatehouse binary: `node build.mjs OUTDIR`.
// esbuild turns src/main.js (and what it imports, uPlot included) into one app.js and
// src/app.css (uPlot's stylesheet included) into one app.css; index.html is copied as is.
// Nothing is fetched: every package comes from node_modules, installed from the committed
// package-lock.json by scripts/setup.sh.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) {
  console.error('usage: node build.mjs OUTDIR');
  process.exit(2);
}
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(here, 'src/main.js') },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome110', 'firefox110', 'safari16'],
  outdir: out,
  logLevel: 'warning',
  legalComments: 'none',
});
await build({
  entryPoints: { app: join(here, 'src/app.css') },
  bundle: true,
  minify: true,
  outdir: out,
  logLevel: 'warning',
});
copyFileSync(join(here, 'src/index.html'), join(out, 'index.html'));
