/**
 * Every subject, stream, bucket and consumer name the engine uses, derived from
 * one optional namespace so that several environments (or test runs) can share
 * a NATS server. With the default empty namespace these are exactly the public
 * names of docs/contract.md.
 */
export interface NatsNames {
  readonly namespace: string;
  subject(name: string): string;
  readonly commandStream: string;
  readonly commandSubjectAll: string;
  commandSubject(partition: number, userId: string): string;
  commandPartitionFilter(partition: number): string;
  commandConsumer(partition: number): string;
  /** Reads every command's headers on the leader and parks those no partition consumer reads. */
  readonly commandStrayConsumer: string;
  readonly eventStream: string;
  readonly eventSubjectAll: string;
  accountEventSubject(event: string, userId: string): string;
  readonly accountsBucket: string;
  readonly partitionLeaseBucket: string;
  readonly adminPrefix: string;
  /** Matching engine balance events `me.balance.<userId>` (docs/contract.md §7) and the stream that keeps them. */
  readonly meBalanceStream: string;
  readonly meBalanceSubjectAll: string;
  meBalanceSubject(userId: string): string;
  /** Matching engine snapshot request-reply (docs/matching-engine-contract.md). */
  readonly meSnapshotSubject: string;
  /** Reconciliation alerts and resolutions, kept on a stream so a pager that was down misses nothing. */
  readonly reconStream: string;
  readonly reconSubjectAll: string;
  reconAlertSubject(boundary: string): string;
  reconResolvedSubject(boundary: string): string;
  /** Durable consumer of the me_db reconciler on the engine's balance stream. */
  readonly meDbConsumer: string;
  /** Custody withdrawal pause / resume per asset, raised by the db_custody reconciler (docs/bitgo-custody.md). */
  readonly custodyStream: string;
  readonly custodySubjectAll: string;
  custodyWithdrawalsPausedSubject(asset: string): string;
  custodyWithdrawalsResumedSubject(asset: string): string;
  /** The close's events `eod.<step>.completed|failed` and `eod.sealed` (docs/contract.md), and their stream. */
  readonly eodStream: string;
  readonly eodSubjectAll: string;
  eodStepSubject(step: string, outcome: 'completed' | 'failed'): string;
  readonly eodSealedSubject: string;
  /** The JetStream object store of sealed reports: `<date>.json` and `<date>.html`. */
  readonly eodReportsStore: string;
  /** Matching engine fills `me.fill.<userId>` (docs/contract.md), their stream and the intake's durable consumer. */
  readonly meFillStream: string;
  readonly meFillSubjectAll: string;
  meFillSubject(userId: string): string;
  readonly fillIntakeConsumer: string;
  /** Commands to the matching engine `me.cmd.<command>.<userId>` (docs/matching-engine-contract.md), kept on a stream. */
  readonly meCommandStream: string;
  readonly meCommandSubjectAll: string;
  meCancelOrdersSubject(userId: string): string;
  meAdjustBalanceSubject(userId: string): string;
  /** Screening and KYC provider events `compliance.sanctions.hit.<userId>`, `compliance.kyc.reverified.<userId>`. */
  readonly complianceStream: string;
  readonly complianceSubjectAll: string;
  sanctionsHitSubject(userId: string): string;
  kycReverifiedSubject(userId: string): string;
  readonly complianceConsumer: string;
}

export function natsNames(namespace: string): NatsNames {
  const subjectPrefix = namespace ? `${namespace}.` : '';
  const namePrefix = namespace ? `${namespace}_` : '';
  const subject = (name: string): string => `${subjectPrefix}${name}`;
  return {
    namespace,
    subject,
    commandStream: `${namePrefix}ACCOUNT_COMMANDS`,
    commandSubjectAll: subject('acct.cmd.>'),
    commandSubject: (partition, userId) => subject(`acct.cmd.${partition}.${userId}`),
    commandPartitionFilter: (partition) => subject(`acct.cmd.${partition}.*`),
    commandConsumer: (partition) => `${namePrefix}acct-cmd-p${partition}`,
    commandStrayConsumer: `${namePrefix}acct-cmd-stray`,
    eventStream: `${namePrefix}ACCOUNT_EVENTS`,
    eventSubjectAll: subject('account.>'),
    accountEventSubject: (event, userId) => subject(`account.${event}.${userId}`),
    accountsBucket: `${namePrefix}accounts`,
    partitionLeaseBucket: `${namePrefix}partition_leases`,
    adminPrefix: subject('admin'),
    meBalanceStream: `${namePrefix}ME_BALANCES`,
    meBalanceSubjectAll: subject('me.balance.>'),
    meBalanceSubject: (userId) => subject(`me.balance.${userId}`),
    meSnapshotSubject: subject('me.snapshot'),
    reconStream: `${namePrefix}RECON_EVENTS`,
    reconSubjectAll: subject('recon.>'),
    reconAlertSubject: (boundary) => subject(`recon.alert.${boundary}`),
    reconResolvedSubject: (boundary) => subject(`recon.resolved.${boundary}`),
    meDbConsumer: `${namePrefix}recon-me-db`,
    custodyStream: `${namePrefix}CUSTODY_EVENTS`,
    custodySubjectAll: subject('custody.withdrawals.>'),
    custodyWithdrawalsPausedSubject: (asset) => subject(`custody.withdrawals.paused.${asset}`),
    custodyWithdrawalsResumedSubject: (asset) => subject(`custody.withdrawals.resumed.${asset}`),
    eodStream: `${namePrefix}EOD_EVENTS`,
    eodSubjectAll: subject('eod.>'),
    eodStepSubject: (step, outcome) => subject(`eod.${step}.${outcome}`),
    eodSealedSubject: subject('eod.sealed'),
    eodReportsStore: `${namePrefix}eod_reports`,
    meFillStream: `${namePrefix}ME_FILLS`,
    meFillSubjectAll: subject('me.fill.>'),
    meFillSubject: (userId) => subject(`me.fill.${userId}`),
    fillIntakeConsumer: `${namePrefix}fill-intake`,
    meCommandStream: `${namePrefix}ME_COMMANDS`,
    meCommandSubjectAll: subject('me.cmd.>'),
    meCancelOrdersSubject: (userId) => subject(`me.cmd.cancel_orders.${userId}`),
    meAdjustBalanceSubject: (userId) => subject(`me.cmd.adjust_balance.${userId}`),
    complianceStream: `${namePrefix}COMPLIANCE_EVENTS`,
    complianceSubjectAll: subject('compliance.>'),
    sanctionsHitSubject: (userId) => subject(`compliance.sanctions.hit.${userId}`),
    kycReverifiedSubject: (userId) => subject(`compliance.kyc.reverified.${userId}`),
    complianceConsumer: `${namePrefix}compliance-intake`,
  };
}
