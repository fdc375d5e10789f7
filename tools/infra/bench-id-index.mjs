#!/usr/bin/env node
// Lookups and updates by _id (and, for the index's cost, inserts) against one collection of N documents, with C concurrent callers:
// the measurement behind the _id indexer section of tools/infra/README.md.
//
//   node tools/infra/bench-id-index.mjs [url] [docs] [concurrency] [seconds]
//   (defaults: $MONGO_URL or mongodb://127.0.0.1:27017, 20000, 8, 5)
//
// It creates a fresh database, fills it, waits up to 3 s for the launcher's _id index (it says
// which plan it got), runs each phase for `seconds`, prints ops/s, and drops the database.
// Compare a launcher started with -index-id=false (on another port and data dir).
import { MongoClient } from 'mongodb';

const [url = process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017', docsArg = '20000', concArg = '8', secsArg = '5'] =
  process.argv.slice(2);
const docs = Number(docsArg);
const concurrency = Number(concArg);
const seconds = Number(secsArg);

const client = await new MongoClient(url, { maxPoolSize: concurrency }).connect();
const db = client.db(`bench_id_index_${process.pid}_${Date.now()}`);
const coll = db.collection('docs');
const id = (i) => `doc-${String(i).padStart(8, '0')}`;
const pick = () => id(Math.floor(Math.random() * docs));

try {
  for (let i = 0; i < docs; i += 1000) {
    const batch = [];
    for (let j = i; j < Math.min(i + 1000, docs); j++) batch.push({ _id: id(j), n: j, v: 0, pad: 'x'.repeat(100) });
    await coll.insertMany(batch, { ordered: false });
  }

  // The launcher indexes a new collection within ~0.25 s. FerretDB's EXPLAIN does not re-read a
  // changed schema on an idle SQLite connection, so a real lookup precedes each explain.
  let plan = '';
  for (const deadline = Date.now() + 3000; Date.now() < deadline; ) {
    await coll.findOne({ _id: pick() });
    const e = await db.command({ explain: { find: 'docs', filter: { _id: pick() } } });
    plan = String(e.queryPlanner?.Plan?.[0] ?? JSON.stringify(e.queryPlanner));
    if (plan.includes('USING INDEX')) break;
    await new Promise((r) => setTimeout(r, 50));
  }

  const phase = async (name, op) => {
    let ops = 0;
    const end = Date.now() + seconds * 1000;
    const start = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < end) {
          await op();
          ops++;
        }
      }),
    );
    const s = Number(process.hrtime.bigint() - start) / 1e9;
    return { name, ops, opsPerSec: Math.round(ops / s) };
  };

  const results = [
    await phase('findOne({_id})', async () => {
      if (!(await coll.findOne({ _id: pick() }))) throw new Error('lookup missed');
    }),
    await phase('updateOne({_id}, {$set})', async () => {
      const r = await coll.updateOne({ _id: pick() }, { $set: { v: Math.random() } });
      if (r.matchedCount !== 1) throw new Error('update missed');
    }),
    // What the extra index costs: inserts maintain it (the collection grows by these).
    await phase('insertOne', async () => {
      await coll.insertOne({ _id: `new-${Math.random()}`, v: 0, pad: 'x'.repeat(100) });
    }),
  ];
  console.log(JSON.stringify({ url, docs, concurrency, seconds, plan, results }));
} finally {
  await db.dropDatabase();
  await client.close();
}
