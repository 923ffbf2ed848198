import { minorToDecimal } from '../../src/config/decimal.js';
import { buildMerkleSumTree, generateSalt, paddingSaltsFromSeed, type MerkleSumTree } from '../../src/eod/proof/index.js';
import { eodStepNames, type EodReport, type EodStepReport } from '../../src/eod/report/index.js';

/** A full report body for `date`, as the close would fill it, with a real Merkle-sum root for BTC. */
export function reportFor(date: string, prevSha256: string | null, tree: MerkleSumTree = sampleTree()): EodReport {
  return {
    date,
    prevSha256,
    cut: {
      cutoverAt: `${date}T21:00:00.000Z`,
      windowStart: `${date}T21:00:00.000Z`.replace(date, previousDate(date)),
      timezone: 'America/New_York',
      cutoverTime: '16:00',
      engineSeq: 1_234_567,
      ledgerWatermark: '998877',
      custodyPolledAt: `${date}T21:00:31.000Z`,
      chainBlock: null,
    },
    steps: eodStepNames.map((name): EodStepReport =>
      name === 'balance_snapshot'
        ? { name, status: 'completed' as const, figures: { users: tree.leafCount, currencies: 1, rows: tree.leafCount } }
        : name === 'recon_me_db'
          ? { name, status: 'completed' as const, figures: { digest: 'ab'.repeat(32), openBreaks: 1 } }
          : { name, status: 'skipped' as const, figures: {}, reason: name === 'recon_db_chain' ? 'boundary not configured' : 'not built yet' },
    ),
    breaks: [{ breakId: 'b-1', boundary: 'me_db', kind: 'balance', userId: 'user-7', currency: 'BTC', left: '1.5', right: '1.4', delta: '0.1', firstSeenAt: `${date}T10:00:00.000Z`, status: 'open' }],
    liabilities: [{ currency: 'BTC', rootHash: tree.rootHash, total: minorToDecimal(tree.totalMinor, 18), leafCount: tree.leafCount }],
    inFlight: [{ boundary: 'db_custody', kind: 'pending_withdrawal', currency: 'BTC', amount: '0.25', reference: 'wd-1' }],
    generatedAt: `${date}T21:05:00.000Z`,
  };
}

export function sampleTree(): MerkleSumTree {
  const leaves = Array.from({ length: 25 }, (_, i) => ({ userId: `user-${i}`, balanceMinor: BigInt(i) * 10n ** 17n, salt: generateSalt() }));
  return buildMerkleSumTree(leaves, { paddingSalt: paddingSaltsFromSeed(generateSalt()) });
}

function previousDate(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d - 1)).toISOString().slice(0, 10);
}
