/**
 * Every subject, stream, bucket and consumer name the engine uses, derived from
 * one optional namespace so that several environments (or test runs) can share
 * a NATS server. With the default empty namespace these are exactly the public
 * names of DESIGN.md §6.
 */
export interface NatsNames {
  readonly namespace: string;
  subject(name: string): string;
  readonly commandStream: string;
  readonly commandSubjectAll: string;
  commandSubject(partition: number, userId: string): string;
  commandPartitionFilter(partition: number): string;
  commandConsumer(partition: number): string;
  readonly eventStream: string;
  readonly eventSubjectAll: string;
  accountEventSubject(event: string, userId: string): string;
  readonly accountsBucket: string;
  readonly adminPrefix: string;
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
    eventStream: `${namePrefix}ACCOUNT_EVENTS`,
    eventSubjectAll: subject('account.>'),
    accountEventSubject: (event, userId) => subject(`account.${event}.${userId}`),
    accountsBucket: `${namePrefix}accounts`,
    adminPrefix: subject('admin'),
  };
}
