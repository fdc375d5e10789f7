// What the benchmark write-up reports besides the measurements: the database and the broker, the
// machine a run had (recorded once by tools/bench/all.ts), and Markdown tables.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqplib from 'amqplib';
import type { MongoClient } from 'mongodb';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

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

/** The broker's product and version from its connection handshake, e.g. "RabbitMQ 3.10.8". */
export async function describeBroker(url: string): Promise<string> {
  const connection = await amqplib.connect(url);
  try {
    const properties = (connection as unknown as { connection: { serverProperties?: Record<string, unknown> } }).connection.serverProperties ?? {};
    return `${String(properties.product ?? 'AMQP broker')} ${String(properties.version ?? '(version unknown)')}`;
  } finally {
    await connection.close();
  }
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  /** Distribution, kernel. */
  os: string;
  node: string;
  /** 1-, 5- and 15-minute load averages. */
  load: number[];
}

/** CPU, memory, OS, Node and the load averages now. */
export function describeMachine(): MachineInfo {
  const cpu = cpus();
  let distribution = type();
  try {
    distribution = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? distribution;
  } catch {
    // not Linux, or no os-release
  }
  return {
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: totalmem() / 2 ** 30,
    os: `${distribution}, ${type()} ${release()}`,
    node: process.version,
    load: loadavg(),
  };
}

export interface GitState {
  /** The commit checked out (full hash), and its subject. */
  commit: string;
  subject: string;
  /** Tracked files that differ from the commit (others' work in progress included). */
  changedFiles: string[];
}

export function describeCheckout(): GitState | undefined {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: REPO, encoding: 'utf8' }).trim();
  try {
    return {
      commit: git('rev-parse', 'HEAD'),
      subject: git('log', '-1', '--format=%s'),
      changedFiles: git('status', '--porcelain', '--untracked-files=no')
        .split('\n')
        .filter(Boolean)
        .map((line) => line.slice(3)),
    };
  } catch {
    return undefined; // not a git checkout
  }
}

/** A Markdown table padded so it also reads well in a terminal; columns from `leftColumns` on are right-aligned. */
export function markdownTable(header: string[], rows: string[][], leftColumns = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const numeric = (i: number) => i >= leftColumns;
  const line = (cells: string[]) => `| ${header.map((_, i) => (numeric(i) ? (cells[i] ?? '').padStart(widths[i]!) : (cells[i] ?? '').padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
