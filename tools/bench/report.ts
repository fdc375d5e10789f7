// What every benchmark script shares: the machine it ran on, and its own section of
// docs/benchmarks.md between `<!-- bench:<name>:start -->` and `<!-- bench:<name>:end -->`.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MongoClient } from 'mongodb';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DOC = join(REPO, 'docs/benchmarks.md');

export interface DatabaseInfo {
  /** For humans, e.g. "FerretDB 1.24.0 (SQLite backend)". */
  description: string;
  isFerretDb: boolean;
}

export async function describeDatabase(client: MongoClient): Promise<DatabaseInfo> {
  const info = await client.db('admin').command({ buildInfo: 1 });
  const ferretVersion: unknown = info.ferretdbVersion;
  if (typeof ferretVersion !== 'string') return { description: `MongoDB ${String(info.version)}`, isFerretDb: false };
  // The embedded launcher (tools/infra/bin/ferretdb-local) reports "unknown"; its go.mod pins it.
  if (ferretVersion === 'unknown' || ferretVersion === '') {
    const goMod = readFileSync(join(REPO, 'tools/infra/ferretdb/go.mod'), 'utf8');
    const pinned = /github\.com\/FerretDB\/FerretDB v(\S+)/.exec(goMod)?.[1] ?? '1.x';
    return { description: `FerretDB ${pinned} (SQLite backend, tools/infra/bin/ferretdb-local)`, isFerretDb: true };
  }
  return { description: `FerretDB ${ferretVersion}`, isFerretDb: true };
}

/** `loadBefore`: the 1-minute load average taken before the run started (other work skews figures). */
export function machineDetails(loadBefore = loadavg()[0]!): string[] {
  const cpu = cpus();
  return [
    `- CPU: ${cpu[0]?.model.trim() ?? 'unknown'}, ${cpu.length} cores (everything in the run shares them)`,
    `- Memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- OS: ${type()} ${release()}; Node ${process.version}`,
    `- Load average (1 min) before the run: ${loadBefore.toFixed(2)}`,
  ];
}

/** Replaces the `name` section of docs/benchmarks.md, keeping everything else. */
export function writeDocSection(name: string, section: string): void {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const block = `${start}\n${section.trimEnd()}\n${end}`;
  let doc: string;
  if (!existsSync(DOC)) {
    doc = [
      '# Benchmarks',
      '',
      'Load tests of Payspec services, each written by a script into its own section between',
      '`<!-- bench:<name>:start -->` and `<!-- bench:<name>:end -->` markers. A script rewrites only its',
      'own section; text outside the markers is kept. Absolute numbers depend on the machine (see each',
      "section's details); the ratios to the baseline are what to compare between runs.",
      '',
      block,
      '',
    ].join('\n');
  } else {
    const current = readFileSync(DOC, 'utf8');
    const from = current.indexOf(start);
    const to = current.indexOf(end);
    doc = from >= 0 && to > from ? current.slice(0, from) + block + current.slice(to + end.length) : `${current.trimEnd()}\n\n${block}\n`;
  }
  mkdirSync(dirname(DOC), { recursive: true });
  writeFileSync(DOC, doc);
}
