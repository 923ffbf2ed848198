/**
 * `npm run build:contracts`: compiles contracts/StakingPool.sol into contracts/StakingPool.json.
 * `npm run build:contracts -- --check`: exits 1 if the committed artifact is stale (CI).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { artifactPath, artifactText, compileStakingPool, repoPath } from './contract-build.js';

const check = process.argv.includes('--check');
const startedMs = Date.now();
const text = artifactText(compileStakingPool());
const target = repoPath(artifactPath);

if (check) {
  let committed = '';
  try {
    committed = readFileSync(target, 'utf8');
  } catch {
    // missing: stale by definition
  }
  if (committed !== text) {
    console.error(`${artifactPath} is stale: run npm run build:contracts and commit it`);
    process.exit(1);
  }
  console.log(`${artifactPath} is up to date (${Date.now() - startedMs} ms)`);
} else {
  writeFileSync(target, text);
  console.log(`wrote ${artifactPath} (${Date.now() - startedMs} ms)`);
}
