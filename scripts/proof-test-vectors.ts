/**
 * `npx tsx scripts/proof-test-vectors.ts`: writes docs/proof-test-vectors.json from
 * src/eod/proof/test-vectors.ts (`--check`: exits 1 if the committed file is stale).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { testVectorsText } from '../src/eod/proof/test-vectors.js';

const target = fileURLToPath(new URL('../docs/proof-test-vectors.json', import.meta.url));
const text = testVectorsText();
if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(target, 'utf8');
  } catch {
    // missing: stale by definition
  }
  if (committed !== text) {
    console.error('docs/proof-test-vectors.json is stale: run npx tsx scripts/proof-test-vectors.ts and commit it');
    process.exit(1);
  }
  console.log('docs/proof-test-vectors.json is up to date');
} else {
  writeFileSync(target, text);
  console.log('wrote docs/proof-test-vectors.json');
}
