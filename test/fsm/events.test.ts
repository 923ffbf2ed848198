import { describe, expect, it } from 'vitest';
import { eventNameFor, type AccountState } from '../../src/fsm/index.js';

const expected: [AccountState | null, AccountState, string][] = [
  [null, 'pending_kyc', 'created'],
  ['kyc_rejected', 'pending_kyc', 'kyc_resubmitted'],
  ['pending_kyc', 'kyc_approved', 'kyc_approved'],
  ['pending_kyc', 'kyc_rejected', 'kyc_rejected'],
  ['kyc_approved', 'active', 'activated'],
  ['suspended', 'active', 'restored'],
  ['restricted', 'active', 'restored'],
  ['kyc_approved', 'suspended', 'suspended'],
  ['active', 'suspended', 'suspended'],
  ['active', 'restricted', 'restricted'],
  ['suspended', 'restricted', 'restricted'],
  ['restricted', 'closed', 'closed'],
  ['kyc_rejected', 'closed', 'closed'],
  ['pending_kyc', 'banned', 'banned'],
  ['kyc_rejected', 'banned', 'banned'],
  ['kyc_approved', 'banned', 'banned'],
  ['active', 'banned', 'banned'],
  ['suspended', 'banned', 'banned'],
  ['restricted', 'banned', 'banned'],
];

describe('eventNameFor', () => {
  it.each(expected)('%s -> %s is %s', (from, to, name) => {
    expect(eventNameFor(from, to)).toBe(name);
  });

  it.each([
    ['closed', 'active'],
    ['active', 'active'],
    [null, 'active'],
    ['active', 'pending_kyc'],
  ] as [AccountState | null, AccountState][])('throws for the non-edge %s -> %s', (from, to) => {
    expect(() => eventNameFor(from, to)).toThrow(RangeError);
  });
});
