// Bundles the console's pages (web/main.ts and what it imports: the generated openapi-fetch
// clients, the pages) into public/dist/ with esbuild. The image runs it at build time; locally the
// console service runs it as it starts (main.ts), so a changed page shows after a restart.
//
//   npx tsx services/console/build.ts
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
export const PUBLIC_DIR = resolve(here, 'public');
export const BUNDLE = resolve(PUBLIC_DIR, 'dist/console.js');

export async function buildConsole(): Promise<void> {
  // esbuild is a build tool (a devDependency): imported only when building.
  const { build } = await import('esbuild');
  const { outputFiles } = await build({
    entryPoints: [resolve(here, 'web/main.ts')],
    outfile: BUNDLE,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
    write: false,
  });
  // Each file whole or not at all: a console starting while another serves the bundle (two test
  // platforms, a restart) never serves half a file.
  for (const file of outputFiles) {
    mkdirSync(dirname(file.path), { recursive: true });
    const partial = `${file.path}.${process.pid}.tmp`;
    writeFileSync(partial, file.contents);
    renameSync(partial, file.path);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildConsole();
  console.log(`console bundle written to ${BUNDLE}`);
}
