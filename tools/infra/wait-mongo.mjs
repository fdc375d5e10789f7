#!/usr/bin/env node
// Usage: node tools/infra/wait-mongo.mjs [mongodb://host:port/] [timeoutSeconds=30]
//
// Waits until a MongoDB-compatible server at <url> completes a real handshake, then exits 0;
// exits 1 on timeout. No dependencies required:
//   - if the `mongodb` driver is resolvable (repo node_modules, cwd, or NODE_PATH) it connects
//     with it and runs {ping: 1};
//   - otherwise it speaks the wire protocol itself: one OP_MSG {hello: 1, $db: "admin"} over TCP
//     and checks the reply has ok: 1.
// Set WAIT_MONGO_DEBUG=1 to see each failed attempt.
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const url = process.argv[2] || process.env.MONGO_URL || 'mongodb://127.0.0.1:27017/';
const timeoutMs = Number(process.argv[3] || 30) * 1000;
const debug = !!process.env.WAIT_MONGO_DEBUG;
const here = path.dirname(fileURLToPath(import.meta.url));

function loadDriver() {
  const require = createRequire(import.meta.url);
  try {
    // Search the repo (script dir upwards), the cwd and NODE_PATH.
    const resolved = require.resolve('mongodb', { paths: [here, process.cwd(), ...(process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean)] });
    return require(resolved);
  } catch {
    return null;
  }
}

// ---- minimal BSON / OP_MSG (only what hello needs) ----
function cstr(s) { return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]); }
function bsonDoc(elements) {
  const body = Buffer.concat([...elements, Buffer.from([0])]);
  const len = Buffer.alloc(4); len.writeInt32LE(body.length + 4);
  return Buffer.concat([len, body]);
}
function int32El(name, v) { const b = Buffer.alloc(4); b.writeInt32LE(v); return Buffer.concat([Buffer.from([0x10]), cstr(name), b]); }
function strEl(name, v) { const s = cstr(v); const l = Buffer.alloc(4); l.writeInt32LE(s.length); return Buffer.concat([Buffer.from([0x02]), cstr(name), l, s]); }

function opMsg(doc, requestId) {
  const header = Buffer.alloc(16);
  const flags = Buffer.alloc(4);
  const total = 16 + 4 + 1 + doc.length;
  header.writeInt32LE(total, 0);
  header.writeInt32LE(requestId, 4);
  header.writeInt32LE(0, 8);
  header.writeInt32LE(2013, 12); // OP_MSG
  return Buffer.concat([header, flags, Buffer.from([0]), doc]);
}

// Returns the value of top-level field `name` for scalar numeric/bool types, or undefined.
function bsonGetNumber(buf, name) {
  let i = 4;
  const end = buf.readInt32LE(0) - 1;
  while (i < end) {
    const type = buf[i++];
    const z = buf.indexOf(0, i);
    const key = buf.toString('utf8', i, z);
    i = z + 1;
    let val; let size;
    switch (type) {
      case 0x01: val = buf.readDoubleLE(i); size = 8; break;
      case 0x02: case 0x0d: case 0x0e: size = 4 + buf.readInt32LE(i); break;
      case 0x03: case 0x04: size = buf.readInt32LE(i); break;
      case 0x05: size = 5 + buf.readInt32LE(i); break;
      case 0x06: case 0x0a: case 0x7f: case 0xff: size = 0; break;
      case 0x07: size = 12; break;
      case 0x08: val = buf[i] ? 1 : 0; size = 1; break;
      case 0x09: case 0x11: size = 8; break;
      case 0x10: val = buf.readInt32LE(i); size = 4; break;
      case 0x12: val = Number(buf.readBigInt64LE(i)); size = 8; break;
      case 0x13: size = 16; break;
      case 0x0b: { const a = buf.indexOf(0, i); const b = buf.indexOf(0, a + 1); size = b + 1 - i; break; }
      default: return undefined; // unknown type: give up
    }
    if (key === name) return val;
    i += size;
  }
  return undefined;
}

function parseHostPort(u) {
  // mongodb://[user:pass@]host[:port][,host2...]/db?opts  -> first host only
  const m = /^mongodb:\/\/(?:[^@/]*@)?([^/,?]+)/.exec(u);
  if (!m) throw new Error(`cannot parse host from ${u} (mongodb+srv is not supported by the fallback)`);
  const hp = m[1];
  if (hp.startsWith('[')) { const e = hp.indexOf(']'); return { host: hp.slice(1, e), port: Number(hp.slice(e + 2) || 27017) }; }
  const [host, port] = hp.split(':');
  return { host, port: Number(port || 27017) };
}

function rawHello(u, timeout = 2000) {
  const { host, port } = parseHostPort(u);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let chunks = Buffer.alloc(0);
    const done = (err) => { sock.destroy(); clearTimeout(t); err ? reject(err) : resolve(); };
    const t = setTimeout(() => done(new Error('hello timed out')), timeout);
    sock.on('error', done);
    sock.on('connect', () => sock.write(opMsg(bsonDoc([int32El('hello', 1), strEl('$db', 'admin')]), 1)));
    sock.on('data', (d) => {
      chunks = Buffer.concat([chunks, d]);
      if (chunks.length < 4 || chunks.length < chunks.readInt32LE(0)) return;
      if (chunks.readInt32LE(12) !== 2013) return done(new Error(`unexpected opCode ${chunks.readInt32LE(12)}`));
      if (chunks[20] !== 0) return done(new Error('unexpected OP_MSG section kind'));
      const ok = bsonGetNumber(chunks.subarray(21), 'ok');
      ok === 1 ? done() : done(new Error(`hello replied ok=${ok}`));
    });
  });
}

async function driverPing(mongodb, u) {
  const client = new mongodb.MongoClient(u, { serverSelectionTimeoutMS: 2000, connectTimeoutMS: 2000 });
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
  } finally {
    await client.close().catch(() => {});
  }
}

const driver = loadDriver();
const how = driver ? 'mongodb driver ping' : 'raw OP_MSG hello';
const deadline = Date.now() + timeoutMs;
let lastErr;
for (;;) {
  try {
    if (driver) await driverPing(driver, url); else await rawHello(url);
    if (debug) console.error(`wait-mongo: ${url} ok (${how})`);
    process.exit(0);
  } catch (err) {
    lastErr = err;
    if (debug) console.error(`wait-mongo: ${how}: ${err.message}`);
  }
  if (Date.now() >= deadline) break;
  await new Promise((r) => setTimeout(r, 250));
}
console.error(`wait-mongo: ${url} did not answer a MongoDB handshake within ${timeoutMs / 1000}s (${how}): ${lastErr && lastErr.message}`);
process.exit(1);
