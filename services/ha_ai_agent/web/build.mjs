// Builds the page into ../static/: app.js (one minified ES2020 bundle), index.html and style.css, and the
// sign-in page (sign-in.html, sign-in.js).
// Prints the bundle's raw and gzipped size, and fails when the gzipped size exceeds the budget.
import { build } from 'esbuild';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const webDir = dirname(fileURLToPath(import.meta.url));
const staticDir = join(webDir, '..', 'static');
const bundlePath = join(staticDir, 'app.js');
// Raising it should be a decision, not an accident.
const GZIP_BUDGET_BYTES = 50 * 1024;

await mkdir(staticDir, { recursive: true });
const result = await build({
  entryPoints: [join(webDir, 'src', 'main.ts')],
  outfile: bundlePath,
  bundle: true,
  minify: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2020',
  sourcemap: false,
  metafile: true,
  logLevel: 'warning',
});
// The sign-in page's own small bundle: it needs none of the chat or tracing code.
await build({
  entryPoints: [join(webDir, 'src', 'signIn.ts')],
  outfile: join(staticDir, 'sign-in.js'),
  bundle: true,
  minify: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2020',
  logLevel: 'warning',
});
await copyFile(join(webDir, 'index.html'), join(staticDir, 'index.html'));
await copyFile(join(webDir, 'sign-in.html'), join(staticDir, 'sign-in.html'));
await copyFile(join(webDir, 'style.css'), join(staticDir, 'style.css'));

const bundle = await readFile(bundlePath);
const gzipped = gzipSync(bundle, { level: 9 }).length;
const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
console.log(`static/app.js: ${bundle.length} bytes (${kib(bundle.length)}), gzipped ${gzipped} bytes (${kib(gzipped)})`);
if (process.argv.includes('--analyze')) {
  const { analyzeMetafile } = await import('esbuild');
  console.log(await analyzeMetafile(result.metafile));
}
if (gzipped > GZIP_BUDGET_BYTES) {
  console.error(`static/app.js is over its gzip budget of ${kib(GZIP_BUDGET_BYTES)}`);
  process.exit(1);
}
