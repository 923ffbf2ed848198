/** The account lifecycle states, in documentation order (not a progression). */
export const accountStates = [
  'pending_kyc',
  'kyc_rejected',
  'kyc_approved',
  'active',
  'suspended',
  'restricted',
  'closed',
  'banned',
] as const;
export type AccountState = (typeof accountStates)[number];

/** Who asks for a transition: the account holder, an automated process, or staff. */
export const authorities = ['self', 'system', 'admin'] as const;
export type Authority = (typeof authorities)[number];

export interface Capabilities {
  trade: boolean;
  withdraw: boolean;
  deposit: boolean;
}

/** What the FSM needs to know of an account. null = the account does not exist yet. */
export interface AccountSnapshot {
  state: AccountState;
  /** Epoch ms at which a pending closure started; non-null only while `restricted`. */
  closureRequestedAt: number | null;
}

const capabilityTable = {
  pending_kyc: { trade: false, withdraw: false, deposit: false },
  kyc_rejected: { trade: false, withdraw: false, deposit: false },
  // Deposits open before trading so that the first credited deposit can activate the account.
  kyc_approved: { trade: false, withdraw: false, deposit: true },
  active: { trade: true, withdraw: true, deposit: true },
  suspended: { trade: false, withdraw: false, deposit: false },
  // Withdraw-only, so a holder who is leaving can drain balances to zero before closure.
  restricted: { trade: false, withdraw: true, deposit: false },
  closed: { trade: false, withdraw: false, deposit: false },
  banned: { trade: false, withdraw: false, deposit: false },
} as const satisfies Record<AccountState, Capabilities>;

/** A fresh object each call, so a caller mutating it cannot change the table. */
export function capabilitiesOf(state: AccountState): Capabilities {
  return { ...capabilityTable[state] };
}

const terminalStates: ReadonlySet<AccountState> = new Set<AccountState>(['closed', 'banned']);

/** Terminal states have no outgoing edges, not even to `banned`. */
export function isTerminal(state: AccountState): boolean {
  return terminalStates.has(state);
}

/** Narrows untrusted input (e.g. a decoded message) to a state name. */
export function isAccountState(value: unknown): value is AccountState {
  return typeof value === 'string' && (accountStates as readonly string[]).includes(value);
}

/** Narrows untrusted input to an authority name. */
export function isAuthority(value: unknown): value is Authority {
  return typeof value === 'string' && (authorities as readonly string[]).includes(value);
}
