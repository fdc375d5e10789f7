// The launcher's _id indexer (tools/infra/ferretdb/idindex.go), seen through FerretDB's own explain:
// FerretDB 1.24 (SQLite) returns the SQLite query plan in `queryPlanner.Plan`, one string per plan
// row: "id=N parent=N notused=N detail=<SQLite EXPLAIN QUERY PLAN detail>". Only a filter that is
// exactly {_id: <string | ObjectId>} reaches SQL, as `WHERE _ferretdb_sjson->'$._id' = ?`; without
// the launcher's index on that expression every such lookup is `SCAN <table>`.
//
// Skipped when MONGO_URL is a real MongoDB. Needs the launcher from `bash tools/infra/up.sh`.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { type Db, type Document, MongoClient, ObjectId } from 'mongodb';

const MONGO_URL = process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017';
const INDEX_SUFFIX = '_payspec_id_path';
const ID_EXPR = "_ferretdb_sjson->'$._id'"; // FerretDB's metadata.IDColumn
const REPO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Where up.sh's launcher keeps <db>.sqlite (tests that look at files skip if it isn't there).
const DATA_DIR = path.join(process.env.PAYSPEC_DATA_DIR ?? path.join(REPO_DIR, '.data'), 'ferretdb');
const INDEX_WAIT_MS = 5_000; // the launcher looks every 250 ms

/** FerretDB's table for a collection (registry.go): lower-cased name + "_" + FNV-1a 32 of the name. */
function tableName(collection: string): string {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(collection, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return `${collection.toLowerCase()}_${h.toString(16).padStart(8, '0')}`;
}

const scanRow = (table: string) => new RegExp(`^id=\\d+ parent=0 notused=0 detail=SCAN ${table}$`);
const searchRow = (table: string) =>
  new RegExp(`^id=\\d+ parent=0 notused=0 detail=SEARCH ${table} USING INDEX ${table}${INDEX_SUFFIX} \\(<expr>=\\?\\)$`);

interface FerretExplain {
  queryPlanner: { Plan?: string[] };
  filterPushdown: boolean;
  command: Document;
}

const explain = async (db: Db, command: Document) => (await db.command({ explain: command })) as unknown as FerretExplain;
const explainFind = (db: Db, collection: string, filter: Document) => explain(db, { find: collection, filter });

/** The single plan row of a FerretDB explain. */
function planRow(e: FerretExplain): string {
  expect(e.queryPlanner.Plan, JSON.stringify(e.queryPlanner)).to.be.an('array').with.lengthOf(1);
  return e.queryPlanner.Plan?.[0] ?? '';
}

/**
 * Polls explain of find({_id: 'x'}) until it uses the index (or INDEX_WAIT_MS passes) and returns it.
 * Each round first runs the lookup for real: SQLite re-reads a changed schema when a statement
 * opens a transaction, but EXPLAIN opens none, so an idle FerretDB connection would go on
 * explaining with the schema it had before the index existed. Real queries never have that lag.
 */
async function explainOnceIndexed(db: Db, collection: string): Promise<FerretExplain> {
  const deadline = Date.now() + INDEX_WAIT_MS;
  for (;;) {
    await db.collection(collection).findOne({ _id: 'x' } as Document);
    const e = await explainFind(db, collection, { _id: 'x' });
    if (e.queryPlanner.Plan?.some((row) => row.includes('USING INDEX')) || Date.now() > deadline) return e;
    await sleep(20);
  }
}

/** Runs EXPLAIN QUERY PLAN with the sqlite3 CLI on a database file, read-only; null if not possible. */
function sqlitePlan(dbName: string, sql: string): string | null {
  const file = path.join(DATA_DIR, `${dbName}.sqlite`);
  if (!existsSync(file)) return null; // database names are unique, so this is the server's file
  try {
    return execFileSync('sqlite3', [`file:${file}?mode=ro`, `EXPLAIN QUERY PLAN ${sql}`], { encoding: 'utf8' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null; // no sqlite3 CLI
    throw err;
  }
}

describe('ferretdb-local _id indexer (FerretDB explain)', function () {
  this.timeout(30_000);
  let client: MongoClient;
  let db: Db;
  const dbName = `idindex_test_${process.pid}_${Date.now()}`;
  const dropDbName = `${dbName}_drop`;

  before(async function () {
    client = await new MongoClient(MONGO_URL, { serverSelectionTimeoutMS: 5_000 }).connect();
    const info = await client.db('admin').command({ buildInfo: 1 });
    if (!('ferretdbVersion' in info)) {
      await client.close();
      this.skip(); // a real MongoDB: nothing of ours to test
    }
    db = client.db(dbName);
  });

  after(async () => {
    if (!db) return;
    await db.dropDatabase();
    await client.db(dropDbName).dropDatabase();
    await client.close();
  });

  /** Inserts x and y into a new collection and waits for the launcher's index. */
  async function indexedCollection(name: string): Promise<{ table: string; indexed: FerretExplain }> {
    await db.collection(name).insertMany([
      { _id: 'x', a: 0 },
      { _id: 'y', a: 0 },
    ] as Document[]);
    const table = tableName(name);
    const indexed = await explainOnceIndexed(db, name);
    expect(planRow(indexed)).to.match(searchRow(table));
    return { table, indexed };
  }

  it('indexes a collection created after the launcher started, under concurrent writes: find({_id}) plans SEARCH … USING INDEX', async () => {
    const name = 'payments';
    const table = tableName(name);
    const coll = db.collection(name);
    const other = db.collection('other');
    await coll.insertMany([
      { _id: 'x', a: 0 },
      { _id: 'y', a: 0 },
    ] as Document[]);

    // Control: right after creation the indexer (every 250 ms) has most likely not run yet, and
    // the pushed-down lookup scans. Either way the row is one of the two exact forms.
    const before = await explainFind(db, name, { _id: 'x' });
    expect(before.filterPushdown).to.equal(true);
    const beforeRow = planRow(before);
    expect(scanRow(table).test(beforeRow) || searchRow(table).test(beforeRow), beforeRow).to.equal(true);

    // Writers on the same database while the index gets created underneath FerretDB.
    let stop = false;
    const errors: unknown[] = [];
    let inserted = 0;
    const writers = [0, 1, 2, 3].map(async (w) => {
      for (let i = 0; !stop; i++) {
        try {
          if (w === 0) {
            await coll.insertOne({ _id: `w-${i}`, n: i } as Document);
            inserted++;
          } else if (w === 1) await coll.updateOne({ _id: 'y' } as Document, { $inc: { n: 1 } });
          else if (w === 2) await coll.findOne({ _id: `w-${i}` } as Document);
          else await other.updateOne({ _id: 'z' } as Document, { $set: { i } }, { upsert: true });
        } catch (err) {
          errors.push(err);
        }
      }
    });
    const after = await explainOnceIndexed(db, name);
    stop = true;
    await Promise.all(writers);

    expect(errors).to.deep.equal([]);
    expect(after.filterPushdown).to.equal(true);
    expect(planRow(after)).to.match(searchRow(table));
    expect(await coll.countDocuments({ _id: { $regex: '^w-' } } as Document)).to.equal(inserted);
    expect(await coll.findOne({ _id: 'x' } as Document)).to.deep.equal({ _id: 'x', a: 0 });
    // An ObjectId _id is pushed down the same way ({"$o": …} in FerretDB's JSON) and uses it too.
    expect(planRow(await explainFind(db, name, { _id: new ObjectId() }))).to.match(searchRow(table));
  });

  it('other filters are not pushed down and scan, index or not', async () => {
    const name = 'filters';
    const { table } = await indexedCollection(name);
    for (const filter of [{ _id: 'x', a: 0 }, { a: 0 }, { _id: 5 }, { _id: { $in: ['x'] } }, { _id: { $eq: 'x' } }]) {
      const e = await explainFind(db, name, filter);
      expect(e.filterPushdown, JSON.stringify(filter)).to.equal(false);
      expect(planRow(e), JSON.stringify(filter)).to.match(scanRow(table));
    }
  });

  it('explain of an update by _id: FerretDB 1.24 explains no filter for update commands, so it shows SCAN', async () => {
    // FerretDB's explain takes the filter only from a `filter` field (common.GetExplainParams); an
    // update has `updates[].q`, so this explain is an unfiltered SELECT even though the index
    // exists. The update itself runs collection.Query with its q (msg_update.go) — the same
    // pushed-down SELECT as find, shown as SEARCH above — then UpdateAll's
    // `UPDATE … WHERE _ferretdb_sjson->'$._id' = ?`: see the next test for both, from SQLite.
    const name = 'updates';
    const { table } = await indexedCollection(name);
    const e = await explain(db, { update: name, updates: [{ q: { _id: 'x' }, u: { $set: { a: 1 } } }] });
    expect(e.command.updates).to.deep.equal([{ q: { _id: 'x' }, u: { $set: { a: 1 } } }]);
    expect(e.filterPushdown).to.equal(false);
    expect(planRow(e)).to.match(scanRow(table));

    const res = await db.collection(name).updateOne({ _id: 'x' } as Document, { $set: { a: 1 } });
    expect([res.matchedCount, res.modifiedCount]).to.deep.equal([1, 1]);
    expect(await db.collection(name).findOne({ _id: 'x' } as Document)).to.deep.equal({ _id: 'x', a: 1 });
  });

  it("the SQL FerretDB runs for an update or delete by _id uses the index (sqlite3 CLI's EXPLAIN QUERY PLAN on the file)", async function () {
    const name = 'statements';
    const { table } = await indexedCollection(name);
    // FerretDB 1.24's statements (collection.go): Query, UpdateAll, DeleteAll.
    const statements = [
      `SELECT _ferretdb_sjson FROM "${table}" WHERE ${ID_EXPR} = ?`,
      `UPDATE "${table}" SET _ferretdb_sjson = ? WHERE ${ID_EXPR} = ?`,
      `DELETE FROM "${table}" WHERE ${ID_EXPR} IN (?)`,
    ];
    for (const sql of statements) {
      const plan = sqlitePlan(dbName, sql);
      if (plan === null) this.skip(); // not our local launcher's data dir, or no sqlite3 CLI
      expect(plan, sql).to.equal(`QUERY PLAN\n\`--SEARCH ${table} USING INDEX ${table}${INDEX_SUFFIX} (<expr>=?)\n`);
    }
  });

  it('drop and re-create of a collection: the new table gets the index again', async () => {
    const name = 'ledger';
    const { table } = await indexedCollection(name);
    expect(await db.collection(name).drop()).to.equal(true);
    const gone = await explainFind(db, name, { _id: 'x' });
    expect(gone.queryPlanner).to.deep.equal({}); // no such collection
    await db.collection(name).insertOne({ _id: 'x', again: true } as Document);
    expect(planRow(await explainOnceIndexed(db, name))).to.match(searchRow(table));
    expect(await db.collection(name).find().toArray()).to.deep.equal([{ _id: 'x', again: true }]);
  });

  it('dropDatabase: the database stays dropped; re-created, it starts empty and gets the index', async () => {
    const other = client.db(dropDbName);
    const name = 'items';
    const table = tableName(name);
    await other.collection(name).insertMany([{ _id: 'x' }, { _id: 'old' }] as Document[]);
    expect(planRow(await explainOnceIndexed(other, name))).to.match(searchRow(table));

    const file = path.join(DATA_DIR, `${dropDbName}.sqlite`);
    const local = existsSync(file); // we can see the launcher's files (up.sh's data dir)
    await other.dropDatabase();
    // Several indexer rounds must not bring the file (hence the database) back: the indexer opens
    // existing files only. Watched for 1 s where the file is visible; else only listDatabases.
    if (local) {
      for (const until = Date.now() + 1_000; Date.now() < until; ) {
        expect(existsSync(file), file).to.equal(false);
        await sleep(50);
      }
    }
    const { databases } = await client.db('admin').command({ listDatabases: 1, nameOnly: true });
    expect((databases as { name: string }[]).map((d) => d.name)).not.to.include(dropDbName);

    await other.collection(name).insertOne({ _id: 'x', fresh: true } as Document);
    expect(await other.collection(name).find().toArray()).to.deep.equal([{ _id: 'x', fresh: true }]);
    expect(planRow(await explainOnceIndexed(other, name))).to.match(searchRow(table));
  });

  it('dropDatabase / re-create churn of one database while the indexer runs: no error, nothing lost or resurrected', async () => {
    const other = client.db(dropDbName);
    for (let i = 0; i < 40; i++) {
      await other.dropDatabase();
      const n = 1 + (i % 5);
      await other.collection('c').insertMany(Array.from({ length: n }, (_, k) => ({ _id: `k${k}`, i })) as Document[]);
      expect(await other.collection('c').countDocuments(), `round ${i}`).to.equal(n);
      expect(await other.collection('c').findOne({ _id: 'k0' } as Document), `round ${i}`).to.deep.equal({ _id: 'k0', i });
    }
  });
});
