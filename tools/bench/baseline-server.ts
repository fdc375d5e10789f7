// The yardstick for tools/bench/run.ts: a bare Express 5 app with one JSON route and nothing
// else (no ids, logs, metrics, auth or validation). Every service figure is read against it.
// Run by run.ts in its own process: PORT=8099 node --import tsx tools/bench/baseline-server.ts
import express from 'express';

const app = express();
// Same two settings as createService(), so the baseline does not pay for work the service skips.
app.disable('x-powered-by');
app.set('etag', false);

app.get('/hello', (_req, res) => {
  res.json({ hello: 'world' });
});

const port = Number(process.env.PORT ?? 8099);
const server = app.listen(port, '127.0.0.1', (err) => {
  if (err) {
    console.error(`baseline cannot listen on port ${port}: ${err.message}`);
    process.exit(1);
  }
});
// Same keep-alive as createService(), so both servers treat autocannon's connections alike.
server.keepAliveTimeout = 5_000;
// Nothing to drain or close: SIGTERM's default action (exit) is the right shutdown.
