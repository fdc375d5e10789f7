// The inbox on the real database: a handled event is skipped, a claimed one is not run twice
// while its lease lasts and is taken over by one delivery after, and purging forgets only what
// is older than the retention.
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

  it('lets the first delivery through and skips a handled event', async () => {
    const handled = randomUUID();
    expect(await inbox.begin(handled, 'contract.subscribed')).to.equal('run');
    await inbox.complete(handled, 'contract.subscribed');
    expect(await inbox.begin(handled, 'contract.subscribed'), 'a redelivery of a handled event').to.equal('duplicate');

    const failed = randomUUID();
    expect(await inbox.begin(failed, 'contract.subscribed')).to.equal('run');
    // …the handler threw: the bus releases the claim…
    await inbox.release(failed);
    expect(await inbox.begin(failed, 'contract.subscribed'), 'the retry of a failed event').to.equal('run');
  });

  it('keeps a claimed, unfinished event from running twice while its lease lasts, then lets exactly one delivery take it over', async () => {
    let now = new Date('2026-11-29T12:00:00Z');
    const leased = new Inbox(db, { leaseMs: 30_000, now: () => now });
    const id = randomUUID();
    expect(await leased.begin(id, 'contract.subscribed')).to.equal('run');
    // …the handler is still running (or its process died)…
    now = new Date(now.getTime() + 29_000);
    expect(await leased.begin(id, 'contract.subscribed'), 'a second delivery while the claim is live').to.equal('busy');
    now = new Date(now.getTime() + 2_000);
    // The lease has expired: of several deliveries at once, one takes the event over.
    const decisions = await Promise.all(Array.from({ length: 5 }, () => leased.begin(id, 'contract.subscribed')));
    expect(decisions.filter((d) => d === 'run')).to.have.length(1);
    expect(decisions.filter((d) => d === 'busy')).to.have.length(4);
    await leased.complete(id, 'contract.subscribed');
    expect(await leased.begin(id, 'contract.subscribed')).to.equal('duplicate');
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
    expect(await inbox.begin(recent, 'contract.subscribed'), 'a recent event is still known').to.equal('duplicate');
    expect(await inbox.begin(old, 'contract.subscribed'), 'an event past the retention is forgotten').to.equal('run');
  });
});
