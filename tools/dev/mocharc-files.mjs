// `make test-only FILE=…`: the suite's .mocharc.json without its `spec`. Mocha adds a config
// file's `spec` to the files named on its command line, so with .mocharc.json itself
// `npx mocha one.test.ts` runs the whole suite; with this config it runs only the files named.
import { readFileSync } from 'node:fs';

const { spec: _everyTest, ...options } = JSON.parse(readFileSync(new URL('../../.mocharc.json', import.meta.url), 'utf8'));
export default options;
