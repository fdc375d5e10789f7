// MongoDB access shared by the services: one client per service, its own database, indexes
// declared next to the repository and created at start (idempotent).
// Everything here must behave the same on MongoDB 7 and FerretDB 1.24 (docs/architecture.md, data access).
import { type CommandStartedEvent, type Db, type IndexDescription, MongoClient, MongoServerError } from 'mongodb';

export interface Database {
  client: MongoClient;
  db: Db;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Collection name → the indexes it needs. */
export type IndexPlan = Record<string, IndexDescription[]>;

/**
 * Watchers of every command the services' clients send (the data-access guard test): clients
 * connected while one is registered report their commands; none do otherwise (no overhead).
 */
export const commandWatchers = new Set<(event: CommandStartedEvent) => void>();

export async function connectMongo(url: string, dbName: string): Promise<Database> {
  const watched = commandWatchers.size > 0;
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5_000, appName: dbName, monitorCommands: watched });
  if (watched) client.on('commandStarted', (event) => commandWatchers.forEach((watch) => watch(event)));
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

/**
 * Creates the plan's indexes that do not exist yet (matched by name, so every index in a plan
 * must be named). Only the missing ones are sent: FerretDB 1.24 crashes the connection on a
 * createIndexes that repeats an existing compound index, and MongoDB does nothing with them anyway.
 */
export async function ensureIndexes(db: Db, plan: IndexPlan): Promise<void> {
  const existingCollections = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
  for (const [collection, indexes] of Object.entries(plan)) {
    const unnamed = indexes.filter((i) => !i.name);
    if (unnamed.length > 0) throw new Error(`every index of ${collection} needs a name (${JSON.stringify(unnamed[0]!.key)})`);
    const existing = existingCollections.has(collection)
      ? new Set((await db.collection(collection).listIndexes().toArray()).map((i) => i.name as string))
      : new Set<string>();
    const missing = indexes.filter((i) => !existing.has(i.name!));
    if (missing.length > 0) await db.collection(collection).createIndexes(missing);
  }
}

/**
 * True for a unique-index collision: the one atomic guard we rely on (docs/architecture.md).
 * MongoDB says 11000; FerretDB 1.24 says 11000 for inserts but InternalError (1) carrying
 * SQLite's "UNIQUE constraint failed" when an update makes two documents collide.
 */
export function isDuplicateKey(err: unknown): boolean {
  if (!(err instanceof MongoServerError)) return false;
  return err.code === 11000 || (err.code === 1 && err.message.includes('UNIQUE constraint failed'));
}
