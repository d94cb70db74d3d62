// Builds the web frontend into OUT_DIR (default ../build/web): index.html and
// assets/app.{js,css}, bundled and minified by esbuild. Prints the sizes as JSON.
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, '../build/web'));
mkdirSync(join(out, 'assets'), { recursive: true });
await esbuild.build({
  entryPoints: [join(here, 'src/main.tsx'), join(here, 'src/app.css')],
  outdir: join(out, 'assets'),
  entryNames: 'app',
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2020',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
const size = (f) => statSync(join(out, f)).size;
console.log(JSON.stringify({ out, js_bytes: size('assets/app.js'), css_bytes: size('assets/app.css') }));
