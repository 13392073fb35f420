// Compiles test/*.test.ts with esbuild and runs them with node's own test runner (no browser needed).
// The compiled files go under node_modules/.cache so their bare imports resolve to this package's dependencies.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const webDir = dirname(fileURLToPath(import.meta.url)).replace(/[\\/]test$/, '');
const testDir = join(webDir, 'test');
const outDir = join(webDir, 'node_modules', '.cache', 'ha-agent-web-tests');

const entryPoints = (await readdir(testDir)).filter((name) => name.endsWith('.test.ts')).map((name) => join(testDir, name));
await rm(outDir, { recursive: true, force: true });
await build({
  entryPoints,
  outdir: outDir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'inline',
  logLevel: 'warning',
});
const compiled = entryPoints.map((path) => join(outDir, path.slice(testDir.length + 1).replace(/\.ts$/, '.mjs')));
const run = spawnSync(process.execPath, ['--enable-source-maps', '--test', ...compiled], { stdio: 'inherit' });
process.exit(run.status ?? 1);
