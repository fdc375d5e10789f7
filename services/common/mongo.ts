// MongoDB access shared by the services: one client per service, its own database, indexes
// declared next to the repository and created at start (idempotent).
// Everything here must behave the same on MongoDB 7 and FerretDB 1.24 (see DESIGN.md §6).
import { type Db, type IndexDescription, MongoClient, MongoServerError } from 'mongodb';

export interface Database {
  client: MongoClient;
  db: Db;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Collection name → the indexes it needs. */
export type IndexPlan = Record<string, IndexDescription[]>;

export async function connectMongo(url: string, dbName: string): Promise<Database> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5_000, appName: dbName });
  await client.connect();
  const db = client.db(dbName);
  return {
    client,
    db,
    ping: async () => {
      await db.command({ ping: 1 });
    },
    close: () => client.close(),
  };
}

export async function ensureIndexes(db: Db, plan: IndexPlan): Promise<void> {
  for (const [collection, indexes] of Object.entries(plan)) {
    if (indexes.length > 0) await db.collection(collection).createIndexes(indexes);
  }
}

/** True for a unique-index collision: the one atomic guard we rely on (DESIGN.md §6). */
export function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === 11000;
}
