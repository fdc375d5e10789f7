// Configuration: CORS_ORIGINS and TRUST_PROXY parsing, and credentials inside URLs never shown,
// neither in a configuration error nor when the database cannot be reached at start.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { ConfigError, commonSpecs, loadConfig, redactSecrets, redactUrl } from './config.js';

const load = (env: Record<string, string>) => loadConfig(commonSpecs('contract', 8081), env);

describe('services/common config (unit)', () => {
  it('CORS_ORIGINS: none by default, "*", or a list of origins; a URL with a path is refused', () => {
    expect(load({}).CORS_ORIGINS).to.deep.equal([]);
    expect(load({ CORS_ORIGINS: '*' }).CORS_ORIGINS).to.equal('*');
    expect(load({ CORS_ORIGINS: 'http://localhost:3000, https://console.example.com' }).CORS_ORIGINS).to.deep.equal([
      'http://localhost:3000',
      'https://console.example.com',
    ]);
    expect(() => load({ CORS_ORIGINS: 'https://console.example.com/' })).to.throw(ConfigError, /CORS_ORIGINS/);
    expect(() => load({ CORS_ORIGINS: 'console.example.com' })).to.throw(ConfigError, /CORS_ORIGINS/);
  });

  it('TRUST_PROXY: off by default; true, a number of hops, or addresses and subnets', () => {
    expect(load({}).TRUST_PROXY).to.equal(false);
    expect(load({ TRUST_PROXY: 'false' }).TRUST_PROXY).to.equal(false);
    expect(load({ TRUST_PROXY: 'true' }).TRUST_PROXY).to.equal(true);
    expect(load({ TRUST_PROXY: '1' }).TRUST_PROXY).to.equal(1);
    expect(load({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).TRUST_PROXY).to.equal('loopback, 10.0.0.0/8');
    expect(() => load({ TRUST_PROXY: 'the load balancer' })).to.throw(ConfigError, /TRUST_PROXY/);
  });

  it('masks the password of a URL, also one with an unescaped @ or / in it', () => {
    expect(redactUrl('mongodb://user:secret@db.example.com:27017/payspec?authSource=admin')).to.equal(
      'mongodb://user:***@db.example.com:27017/payspec?authSource=admin',
    );
    expect(redactUrl('mongodb://user:se@c/ret@host/db')).to.equal('mongodb://user:***@host/db');
    expect(redactUrl('amqp://guest:guest@127.0.0.1:5672')).to.equal('amqp://guest:***@127.0.0.1:5672');
    expect(redactUrl('mongodb://127.0.0.1:27017')).to.equal('mongodb://127.0.0.1:27017');
    expect(redactSecrets('connect to "mongodb://u:p w@h" failed', ['mongodb://u:p w@h'])).to.equal('connect to "mongodb://u:***@h" failed');
    expect(redactSecrets('a: amqp://u:pw@h:5672/vhost, b: mongodb+srv://x:y@cluster')).to.equal('a: amqp://u:***@h:5672/vhost, b: mongodb+srv://x:***@cluster');
  });

  it('never echoes credentials in a configuration error', () => {
    const error = (() => {
      try {
        load({ MONGO_URL: 'mongodb://user:secret@db host', AMQP_URL: 'amqp://rabbit:hunter2@' });
      } catch (err) {
        return err as Error;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(error).to.be.instanceOf(ConfigError);
    expect(error.message).to.include('MONGO_URL').and.include('mongodb://user:***@db host').and.include('AMQP_URL').and.include('amqp://rabbit:***@');
    expect(error.message).not.to.match(/secret|hunter2/);
  });
});

describe('services/common config: a service that cannot start (integration)', function () {
  this.timeout(30_000);
  /** The contract service's main.ts, as `make run` or a container starts it. */
  const start = (env: Record<string, string>) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'services/contract/main.ts'], {
      env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'silent', AUTH_JWKS: '{"keys":[]}', ...env },
    }).then(
      () => {
        throw new Error('the service started');
      },
      (err: { code: number; stderr: string }) => err,
    );

  it('names MONGO_URL with its password masked when the URL is invalid or the server unusable', async () => {
    for (const [mongoUrl, expected] of [
      ['mongodb://user:secret@db host', 'mongodb://user:***@db host'],
      ['mongo://user:secret@db.example.com/payspec', 'MONGO_URL: cannot connect to mongo://user:***@db.example.com/payspec: Invalid scheme'],
      ['mongodb://user:secret@127.0.0.1:1/payspec', 'MONGO_URL: cannot connect to mongodb://user:***@127.0.0.1:1/payspec'],
    ] as const) {
      const { code, stderr } = await start({ MONGO_URL: mongoUrl });
      expect(code, mongoUrl).to.equal(1);
      expect(stderr, mongoUrl).to.include('contract failed to start').and.include(expected);
      expect(stderr, mongoUrl).not.to.include('secret');
    }
  });
});
