// The inbox on the real database: a handled event is skipped, a failed one is handled again,
// and purging forgets only what is older than the retention.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { type Db, MongoClient } from 'mongodb';
import { MONGO_URL, testDatabaseName } from '../../../tools/testing/service-harness.js';
import { Inbox } from './inbox.js';

describe('Inbox (integration)', () => {
  let client: MongoClient;
  let db: Db;
  let inbox: Inbox;

  before(async () => {
    client = await new MongoClient(MONGO_URL).connect();
    db = client.db(testDatabaseName('inbox'));
    inbox = new Inbox(db);
  });
  after(async () => {
    await db?.dropDatabase();
    await client?.close();
  });

  it('lets the first delivery through, skips a handled event, and lets a failed one through again', async () => {
    const handled = randomUUID();
    expect(await inbox.begin(handled, 'contract.subscribed')).to.equal(true);
    await inbox.complete(handled, 'contract.subscribed');
    expect(await inbox.begin(handled, 'contract.subscribed'), 'a redelivery of a handled event').to.equal(false);

    const failed = randomUUID();
    expect(await inbox.begin(failed, 'contract.subscribed')).to.equal(true);
    // …the handler threw, so complete() was never called…
    expect(await inbox.begin(failed, 'contract.subscribed'), 'the retry of a failed event').to.equal(true);
  });

  it('purges only records older than the cut-off', async () => {
    const old = randomUUID();
    await inbox.begin(old, 'contract.subscribed');
    await inbox.complete(old, 'contract.subscribed');
    await db.collection('inbox').updateOne({ _id: old as never }, { $set: { at: new Date(Date.now() - 10 * 86_400_000) } });
    await db.collection('inbox_claims').updateOne({ _id: old as never }, { $set: { at: new Date(Date.now() - 10 * 86_400_000) } });
    const recent = randomUUID();
    await inbox.begin(recent, 'contract.subscribed');
    await inbox.complete(recent, 'contract.subscribed');

    expect(await inbox.purge(new Date(Date.now() - 7 * 86_400_000))).to.equal(2);
    expect(await inbox.begin(recent, 'contract.subscribed'), 'a recent event is still known').to.equal(false);
    expect(await inbox.begin(old, 'contract.subscribed'), 'an event past the retention is forgotten').to.equal(true);
  });
});
