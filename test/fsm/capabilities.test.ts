import { describe, expect, it } from 'vitest';
import { capabilitiesOf, isAccountState, isAuthority, isTerminal, type AccountState, type Capabilities } from '../../src/fsm/index.js';

const expected: Record<AccountState, Capabilities> = {
  pending_kyc: { trade: false, withdraw: false, deposit: false },
  kyc_rejected: { trade: false, withdraw: false, deposit: false },
  kyc_approved: { trade: false, withdraw: false, deposit: true },
  active: { trade: true, withdraw: true, deposit: true },
  suspended: { trade: false, withdraw: false, deposit: false },
  restricted: { trade: false, withdraw: true, deposit: false },
  closed: { trade: false, withdraw: false, deposit: false },
  banned: { trade: false, withdraw: false, deposit: false },
};

describe('capabilitiesOf', () => {
  it.each(Object.entries(expected) as [AccountState, Capabilities][])('%s', (state, caps) => {
    expect(capabilitiesOf(state)).toEqual(caps);
  });

  it('returns a copy: mutating it does not change the table', () => {
    const caps = capabilitiesOf('suspended');
    caps.trade = true;
    expect(capabilitiesOf('suspended').trade).toBe(false);
  });
});

describe('isTerminal', () => {
  it('is true exactly for closed and banned', () => {
    const terminal = (Object.keys(expected) as AccountState[]).filter((s) => isTerminal(s));
    expect(terminal.sort()).toEqual(['banned', 'closed']);
  });
});

describe('type guards', () => {
  it('recognise only known names', () => {
    expect(isAccountState('restricted')).toBe(true);
    expect(isAccountState('frozen')).toBe(false);
    expect(isAccountState(3)).toBe(false);
    expect(isAuthority('admin')).toBe(true);
    expect(isAuthority('root')).toBe(false);
    expect(isAuthority(null)).toBe(false);
  });
});
