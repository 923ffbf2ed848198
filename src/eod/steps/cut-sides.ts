import { engineBalancesAtCut, engineHistoryPassedCut, ledgerBalancesAtCut, transactionsOpenSinceBeforeCut, type EngineCut, type LedgerCut } from '../cut-balances.js';
import { EodStepFailure, type EodStepContext } from './step.js';

const engineWaitPollMs = 500;

/**
 * Both sides at the cut, computed once per run and shared by the steps. Waits (within the
 * step's timeout) until the engine history is complete through the cutover (an event at or
 * after it was recorded, or the me_db reconciler has recorded everything published) and no
 * transaction begun before the cutover is still open.
 */
export function cutSides(context: EodStepContext): Promise<{ engine: EngineCut; ledger: LedgerCut }> {
  return context.shared('cut-sides', async () => {
    while (!(await engineHistoryPassedCut(context.pool, context.window)) && !(await context.engineCaughtUp())) {
      if (context.signal.aborted) throw new EodStepFailure('the engine history did not reach the cutover before the step timed out');
      await new Promise((resolve) => setTimeout(resolve, engineWaitPollMs));
    }
    // A ledger transaction begun before the cutover may still add rows dated before it.
    while (await transactionsOpenSinceBeforeCut(context.pool, context.window)) {
      if (context.signal.aborted) throw new EodStepFailure('a ledger transaction begun before the cutover was still open when the step timed out');
      await new Promise((resolve) => setTimeout(resolve, engineWaitPollMs));
    }
    const [engine, ledger] = await Promise.all([
      engineBalancesAtCut(context.pool, context.window, context.previousSealedDate),
      ledgerBalancesAtCut(context.pool, context.window, context.previousSealedDate),
    ]);
    return { engine, ledger };
  });
}

export const isHouseAccount = (account: string): boolean => account.startsWith('house:');
