// Builds the web frontend into OUT_DIR (default ../build/web): index.html,
// assets/app.{js,css}, and assets/live-worker.js (the SharedWorker that owns the one
// event stream of all tabs: a classic script, so that every browser with SharedWorker
// can start it), bundled and minified by esbuild. Prints the sizes as JSON.
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, '../build/web'));
mkdirSync(join(out, 'assets'), { recursive: true });
const common = { bundle: true, minify: true, target: 'es2020', legalComments: 'none', logLevel: 'warning' };
await esbuild.build({
  ...common,
  entryPoints: [join(here, 'src/main.tsx'), join(here, 'src/app.css')],
  outdir: join(out, 'assets'),
  entryNames: 'app',
  format: 'esm',
  jsx: 'automatic',
  jsxImportSource: 'preact',
});
await esbuild.build({
  ...common,
  entryPoints: [join(here, 'src/live_worker.ts')],
  outfile: join(out, 'assets/live-worker.js'),
  format: 'iife',
});
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
const size = (f) => statSync(join(out, f)).size;
console.log(JSON.stringify({ out, js_bytes: size('assets/app.js'), worker_bytes: size('assets/live-worker.js'),
                            css_bytes: size('assets/app.css') }));
