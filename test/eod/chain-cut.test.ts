import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from '../../src/db/pool.js';
import { addDays, businessWindow } from '../../src/eod/business-date.js';
import type { Fence } from '../../src/supervisor/fence.js';
import { startPoolOnAnvil, token, type PoolOnAnvil } from '../adapters/chain/pool-on-anvil.js';
import { EodHarness } from '../support/eod-harness.js';

/**
 * db_chain at the cut, on a real anvil: the last block with a timestamp before the cutover,
 * confirmed, its totalStaked(), against staking positions as of the cut. Anvil's clock cannot
 * go back, so the business date is in the chain's near future and the close is told the time.
 */
const date = addDays(new Date().toISOString().slice(0, 10), 2);
const w = businessWindow(date, { time: '00:00', zone: 'UTC' });
const T = Math.floor(w.endMs / 1000);
const at = (sec: number) => new Date(sec * 1000).toISOString();
const fence: Fence = { lease: 'eod-chain-test', token: 1, holder: 'test' };
const eodHarness = new EodHarness(fence);
let pool: Pool;
let chain: PoolOnAnvil;
let cutBlock: { number: number; hash: string };

beforeAll(async () => {
  ({ pool } = await eodHarness.open());
  chain = await startPoolOnAnvil();
  const [, a1, a2] = chain.accounts as [string, string, string];
  await chain.anvil.rpc('evm_setNextBlockTimestamp', [T - 100]);
  await chain.send({ from: a1, fn: 'stake', amountBase: 5n * token });
  await chain.anvil.rpc('evm_setNextBlockTimestamp', [T - 10]);
  await chain.mine(1);
  const head = await chain.head();
  cutBlock = { number: head, hash: await chain.blockHash(head) };
  await chain.anvil.rpc('evm_setNextBlockTimestamp', [T + 5]);
  await chain.send({ from: a2, fn: 'stake', amountBase: 3n * token });
  await chain.mine(12);
  // The staking service's positions: a1's 5 before the cut, a2's 3 after it, and u3's 1 that the chain never saw.
  await pool.query(
    `INSERT INTO staking_positions (user_id, address, amount, updated_at) VALUES ('u1', $1, 5, $3), ('u2', $2, 3, $4), ('u3', '0x00000000000000000000000000000000000000aa', 1, $5)`,
    [a1, a2, at(T - 100), at(T + 5), at(T - 20)]);
  await pool.query(
    `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at)
     VALUES ('j1', 'u1', 'ETH', 1, 'deposit', 'j1', $1), ('j1', 'house:custody', 'ETH', -1, 'deposit', 'j1', $1)`, [at(T - 3_600)]);
  await pool.query("INSERT INTO engine_balance_history (seq, user_id, currency, total, locked, available, ts) VALUES (1, 'u1', 'ETH', 1, 0, 1, $1), (2, 'u1', 'ETH', 1, 0, 1, $2)", [at(T - 3_600), at(T + 60)]);
}, 60_000);

afterAll(async () => {
  await chain?.stop();
  await eodHarness.close();
});

describe('recon_db_chain at the cut', () => {
  it('reads totalStaked() at the last confirmed block before the cutover and compares positions as of the cut', async () => {
    const eod = await eodHarness.service(
      { ETH_RPC_URL: chain.anvil.url, STAKING_POOL_ADDRESS: chain.address, CHAIN_CONFIRMATIONS: '12' },
      { nowMs: () => (T + 3_600) * 1000 });
    const state = await eod.run(date);
    await eod.stop();
    expect(state.status, JSON.stringify(state.steps.filter((s) => s.error))).toBe('sealed');
    const report = (await eod.close.report(date)).report as { cut: { chainBlock: unknown }; steps: Array<{ name: string; figures: Record<string, unknown> }>; breaks: unknown[] };
    expect(report.cut.chainBlock).toEqual(cutBlock);
    expect(report.steps.find((s) => s.name === 'recon_db_chain')?.figures).toMatchObject({
      block: { number: cutBlock.number, hash: cutBlock.hash, timestamp: at(T - 10) },
      totalStaked: '5', positionsTotal: '6', delta: '1', breaks: 1,
    });
    expect(report.breaks).toEqual([expect.objectContaining({ boundary: 'db_chain', left: '6', right: '5', delta: '1' })]);
  });
});
