// node tools/infra/wait-mongo.mjs [url] [timeoutSeconds]
// Waits until a MongoDB-compatible server answers a real `ping` (not just an open port).
// Runs after `npm ci`, so the repo's mongodb driver is there.
import { MongoClient } from 'mongodb';

const url = process.argv[2] ?? 'mongodb://127.0.0.1:27017/';
const timeoutSeconds = Number(process.argv[3] ?? 30);
const deadline = Date.now() + timeoutSeconds * 1000;

for (;;) {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000 });
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
    await client.close();
    process.exit(0);
  } catch (err) {
    await client.close().catch(() => {});
    if (Date.now() > deadline) {
      console.error(`no MongoDB answer at ${url} within ${timeoutSeconds}s: ${err.message}`);
      process.exit(1);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
