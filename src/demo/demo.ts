import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { ComplianceSimulator } from '../adapters/compliance/simulator.js';
import { startExchangeSimulator, type ExchangeSimulator } from '../adapters/exchange-simulator/index.js';
import type { AccountCommandClient } from '../actors/command-client.js';
import type { AccountCommand } from '../actors/account-command.js';
import type { BitgoSimulator } from '../adapters/bitgo/simulator/index.js';
import type { BitgoWalletRef, Settings } from '../config/settings.js';
import { startCustodyDemo } from './custody-demo.js';
import { writeAndClosePreviousDay } from './previous-day.js';
import type { AnvilHandle } from '../embedded/anvil.js';
import { startStakingDemo } from './staking-demo.js';
import type { Pool } from '../db/pool.js';
import type { NatsNames } from '../nats/names.js';
import type { Logger } from '../observability/logger.js';

export interface DemoDeps {
  nc: NatsConnection;
  pool: Pool;
  names: NatsNames;
  commands: AccountCommandClient;
  settings: Settings;
  log: Logger;
  chain?: { anvil: AnvilHandle; poolAddress: string };
  custody?: { bitgo: BitgoSimulator; hotWallet: BitgoWalletRef };
}

export interface Demo {
  stop(): Promise<void>;
}

const demoCurrencies = ['BTC', 'ETH', 'USDT'] as const;
/** One fault every cycle, fixed a little after its alert, so the console shows break → freeze → resolve. */
const faultCycleMs = 30_000;
const fixAfterAlertMs = 8_000;

/**
 * The simulated exchange the embedded default (or `--simulate`) runs against the engine:
 * accounts opened and activated through the FSM, the exchange simulator trading on them,
 * a periodic injected fault (its alert and resolution are logged from the bus, src/observability/bus-log.ts).
 */
export async function startDemo(deps: DemoDeps): Promise<Demo> {
  const { log, settings } = deps;
  const users = Array.from({ length: settings.SIMULATOR_USERS }, (_, i) => `demo${String(i + 1).padStart(4, '0')}`);
  await openAccounts(deps.commands, users);
  log.info({ event: 'demo.accounts_ready', users: users.length }, `demo: ${users.length} accounts active`);
  // Yesterday first, closed and sealed, then the live exchange resumes from its balances.
  await writeAndClosePreviousDay(deps).catch((error: unknown) =>
    log.warn({ event: 'demo.previous_day_failed', err: (error as Error).message }, `demo: the previous day's close failed: ${(error as Error).message}`));

  const simulator = await startExchangeSimulator({
    nc: deps.nc, pool: deps.pool, names: deps.names, seed: settings.SIMULATOR_SEED,
    rateEventsPerSec: settings.SIMULATOR_RATE_EVENTS_PER_SEC, users, currencies: demoCurrencies, log,
  });
  const staking = deps.chain ? await startStakingDemo({ ...deps.chain, pool: deps.pool, log, users }) : null;
  const custody = deps.custody ? startCustodyDemo({ ...deps.custody, pool: deps.pool, log }) : null;
  let cycle = 0;
  const pending = new Set<NodeJS.Timeout>();
  const later = (ms: number, task: () => Promise<void>): void => {
    const timer = setTimeout(() => {
      pending.delete(timer);
      task().catch((error: unknown) => log.warn({ event: 'demo.task_failed', err: (error as Error).message }, 'demo step failed'));
    }, ms);
    pending.add(timer);
  };
  const injectFault = async (): Promise<void> => {
    cycle++;
    const userId = users[(cycle * 7) % users.length] ?? users[0] ?? 'demo0001';
    const currency = demoCurrencies[cycle % demoCurrencies.length] ?? 'USDT';
    const handle = simulator.faults.engineOnlyChange({ userId, currency, deltaMinor: 10n ** 15n * BigInt(cycle) });
    log.warn({ event: 'demo.fault_injected', userId, currency, faultId: handle.faultId }, `demo: engine balance of ${userId} ${currency} changed with no ledger entry`);
    later(settings.RECON_GRACE_MS + fixAfterAlertMs, async () => {
      await simulator.fix(handle.faultId);
      log.info({ event: 'demo.fault_fixed', faultId: handle.faultId }, `demo: ledger adjustment booked for ${userId} ${currency}`);
      later(settings.RECON_GRACE_MS + 2_000, async () => {
        await deps.commands.send({ kind: 'transition', userId, target: 'active', authority: 'admin', reasonCode: 'recon_cleared', actorId: 'demo-ops', commandId: `demo-restore:${handle.faultId}` });
        log.info({ event: 'demo.account_restored', userId }, `demo: ${userId} restored to active by ops`);
      });
    });
    later(faultCycleMs, injectFault);
  };
  later(10_000, injectFault);
  // Today's money events, live (issue 9): an operator's adjustment the engine applies too, then a sanctions hit.
  later(20_000, async () => {
    const userId = users[11] ?? users[0] ?? 'demo0001';
    const body = { userId, currency: 'USDT', amount: '10', reason: 'goodwill credit, live demo', actorId: 'demo-ops', idempotencyKey: `demo-live-${new Date().toISOString().slice(0, 10)}` };
    const reply = (await deps.nc.request(`${deps.names.adminPrefix}.balance.adjust`, JSON.stringify(body), { timeout: 10_000 })).json<unknown>();
    log.info({ event: 'demo.balance_adjusted', userId, reply }, `demo: ops credited ${userId} 10 USDT (admin.balance.adjust)`);
  });
  later(40_000, async () => {
    const userId = users[10] ?? users[0] ?? 'demo0001';
    await new ComplianceSimulator(jetstream(deps.nc), deps.names).sanctionsHit(userId, 'OFAC-SDN', `demo-live-${new Date().toISOString().slice(0, 10)}`);
    log.warn({ event: 'demo.sanctions_hit', userId }, `demo: screening reported ${userId} on OFAC-SDN`);
  });

  return {
    async stop() {
      for (const timer of pending) clearTimeout(timer);
      await staking?.stop();
      await custody?.stop();
      await simulator.stop();
    },
  };
}

async function openAccounts(commands: AccountCommandClient, users: readonly string[]): Promise<void> {
  const steps: Array<Pick<AccountCommand, 'kind' | 'target' | 'authority' | 'reasonCode' | 'actorId'>> = [
    { kind: 'create', target: 'pending_kyc', authority: 'self', reasonCode: 'signup', actorId: 'demo' },
    { kind: 'transition', target: 'kyc_approved', authority: 'system', reasonCode: 'kyc_pass', actorId: 'demo-kyc' },
    { kind: 'transition', target: 'active', authority: 'system', reasonCode: 'first_deposit', actorId: 'demo-ledger' },
  ];
  // Stable command ids: a second demo run on the same services changes nothing.
  await Promise.all(users.map(async (userId) => {
    for (const [i, step] of steps.entries()) await commands.send({ ...step, userId, commandId: `demo-open:${userId}:${i}` });
  }));
}

export type { ExchangeSimulator };
