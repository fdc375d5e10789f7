// `make generate`: specs/*.yaml (OpenAPI 3.1) → generated/<api>/{spec.json,types.ts,delegate.ts,router.ts,client.ts},
// and specs/events.yaml (AsyncAPI 3.0) → generated/events/{spec.json,types.ts,catalog.ts}.
// Lints first (Redocly + Payspec's contract rules; an error stops generation), bundles $refs, and
// writes only when content changed, so the output is deterministic and `--check` can compare.
//
//   tsx tools/codegen/generate.ts            write generated/ (and the generator's test fixtures)
//   tsx tools/codegen/generate.ts --check    exit 1 when generated/ differs from what the specs produce
//   tsx tools/codegen/generate.ts --lint-only
//   tsx tools/codegen/generate.ts --specs DIR --out DIR [--check|--lint-only]   one other folder instead (tests)
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle, lint, loadConfig, type Config } from '@redocly/openapi-core';
import openapiTS, { astToString } from 'openapi-typescript';
import { checkContractRules, checkExamples } from './contract-rules.js';
import { generateEvents } from './events.js';
import { apiNames, emitClient, emitDelegate, emitRouter, header } from './emit.js';
import { type JsonObject, readOperations, usesReadWrite } from './openapi-model.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const runtimeDir = join(root, 'services/common/http');

/** A set of specs and where their code goes. The fixtures prove the generator itself (tools/codegen/test). */
const TARGETS = [
  { specs: join(root, 'specs'), out: join(root, 'generated'), requireExamples: true },
  // The generator's fixture is about code shapes, not about being imported into Postman: no examples rule.
  { specs: join(root, 'tools/codegen/test/fixtures'), out: join(root, 'tools/codegen/test/fixtures/generated'), requireExamples: false },
];

const API_FILES = new Set(['spec.json', 'types.ts', 'delegate.ts', 'router.ts', 'client.ts', 'catalog.ts']);

export interface GeneratedApi {
  api: string;
  files: Map<string, string>;
}

async function loadLintConfig(): Promise<Config> {
  return loadConfig({ configPath: join(root, 'redocly.yaml') });
}

/** OpenAPI documents directly in `dir`; AsyncAPI (events.yaml) and shared fragments are not APIs. */
/** Specs directly in `dir`: OpenAPI documents are APIs; the AsyncAPI one is the event catalog. Shared fragments live in subfolders. */
function specFiles(dir: string, kind: 'openapi' | 'asyncapi'): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .filter((f) => new RegExp(`^${kind}:`, 'm').test(readFileSync(join(dir, f), 'utf8')))
    .sort()
    .map((f) => join(dir, f));
}
const apiSpecs = (dir: string) => specFiles(dir, 'openapi');

async function lintSpec(file: string, config: Config): Promise<string[]> {
  const problems = await lint({ ref: file, config });
  const where = relative(root, file);
  for (const p of problems.filter((p) => p.severity === 'warn')) {
    console.warn(`warning ${where}${p.location[0]?.pointer ?? ''}: ${p.message} (${p.ruleId})`);
  }
  return problems
    .filter((p) => p.severity === 'error')
    .map((p) => `${where}${p.location[0]?.pointer ?? ''}: ${p.message} (${p.ruleId})`);
}

export async function generateApi(file: string, outDir: string, config: Config, requireExamples = false): Promise<GeneratedApi> {
  const api = basename(file, '.yaml');
  const { bundle: bundled, problems } = await bundle({ ref: file, config, dereference: false });
  const errors = problems.filter((p) => p.severity === 'error').map((p) => p.message);
  if (errors.length > 0) throw new Error(`${relative(root, file)}: cannot bundle:\n  ${errors.join('\n  ')}`);
  const doc = bundled.parsed as JsonObject;
  const operations = readOperations(doc);
  const ruleErrors = [...checkContractRules(doc, operations), ...(requireExamples ? checkExamples(doc) : [])];
  if (ruleErrors.length > 0) throw new Error(`${relative(root, file)} breaks Payspec's contract rules:\n  ${ruleErrors.join('\n  ')}`);

  const names = apiNames(api, relative(root, file), relative(join(outDir, api), runtimeDir));
  const readWriteMarkers = usesReadWrite(doc);
  const types = astToString(await openapiTS(doc as never, { alphabetize: false, exportType: false, readWriteMarkers }));
  const files = new Map<string, string>([
    ['spec.json', `${JSON.stringify(doc, null, 2)}\n`],
    ['types.ts', `${header(names)}/* eslint-disable */\n${types}`],
    ['delegate.ts', emitDelegate(names, operations, { readWriteMarkers })],
    ['router.ts', emitRouter(names, operations)],
    ['client.ts', emitClient(names)],
  ]);
  return { api, files };
}

/** `--specs DIR --out DIR` replaces the built-in targets with that one (the generator's tests use a temp folder). */
function targetsFrom(argv: string[]): { specs: string; out: string; requireExamples: boolean }[] {
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const specs = value('--specs');
  const out = value('--out');
  if (specs === undefined && out === undefined) return TARGETS;
  if (!specs || !out || specs.startsWith('--') || out.startsWith('--')) throw new Error('--specs DIR and --out DIR go together');
  return [{ specs: resolve(specs), out: resolve(out), requireExamples: false }];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = new Set(argv);
  const check = args.has('--check');
  const started = performance.now();
  const config = await loadLintConfig();

  const targets = targetsFrom(argv).map((t) => ({ ...t, files: apiSpecs(t.specs), events: specFiles(t.specs, 'asyncapi') }));
  if (targets.some((t) => t.events.length > 1)) throw new Error('one AsyncAPI event catalog per specs folder');
  const lintErrors = (await Promise.all(targets.flatMap((t) => [...t.files, ...t.events].map((f) => lintSpec(f, config))))).flat();
  if (lintErrors.length > 0) {
    console.error(`Spec lint failed:\n  ${lintErrors.join('\n  ')}`);
    process.exit(1);
  }
  if (args.has('--lint-only')) {
    // Payspec's own rules need the bundled document: bundling is generating without writing.
    const ruleErrors: string[] = [];
    for (const target of targets) {
      for (const file of target.files) {
        await generateApi(file, target.out, config, target.requireExamples).catch((err: unknown) => ruleErrors.push(err instanceof Error ? err.message : String(err)));
      }
    }
    if (ruleErrors.length > 0) {
      console.error(ruleErrors.join('\n'));
      process.exit(1);
    }
    console.log(`specs lint clean (${targets.reduce((n, t) => n + t.files.length, 0)} specs)`);
    return;
  }

  const differences: string[] = [];
  for (const target of targets) {
    const apis = await Promise.all(target.files.map((f) => generateApi(f, target.out, config, target.requireExamples)));
    const expected = new Map<string, string>();
    for (const { api, files } of apis) for (const [name, text] of files) expected.set(join(target.out, api, name), text);
    for (const file of target.events) {
      for (const [name, text] of await generateEvents(file, config, root)) expected.set(join(target.out, 'events', name), text);
    }
    // An API file left from a removed spec is a difference too (other generators own other folders).
    for (const file of listFiles(target.out)) {
      if (API_FILES.has(basename(file)) && !expected.has(file)) {
        differences.push(`stale ${relative(root, file)}`);
        if (!check) rmSync(file);
      }
    }
    for (const [file, text] of expected) {
      const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
      if (current === text) continue;
      differences.push(`${current === undefined ? 'missing' : 'changed'} ${relative(root, file)}`);
      if (!check) {
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, text);
      }
    }
  }
  const ms = Math.round(performance.now() - started);
  if (check) {
    if (differences.length > 0) {
      console.error(`generated/ is out of date with the specs (run \`make generate\`):\n  ${differences.join('\n  ')}`);
      process.exit(1);
    }
    console.log(`generated/ matches the specs (${ms} ms)`);
  } else {
    console.log(`generated ${targets.reduce((n, t) => n + t.files.length, 0)} APIs in ${ms} ms; ${differences.length} files written or removed`);
  }
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
