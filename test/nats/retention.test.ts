import { connect } from '@nats-io/transport-node';
import { nanos } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.js';
import { natsNames } from '../../src/nats/names.js';
import { ensureAccountTopology, removeTopology } from '../../src/nats/topology.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';

describe('account events retention (ACCOUNT_EVENTS_MAX_AGE_DAYS)', () => {
  it('keeps events forever by default, and for the configured days when set (applied to an existing stream too)', async () => {
    expect(loadSettings({}).ACCOUNT_EVENTS_MAX_AGE_DAYS).toBe(0);
    const nc = await connect({ servers: sharedNatsUrl() });
    const names = natsNames(testNamespace());
    try {
      const forever = await ensureAccountTopology(nc, names);
      expect((await forever.jsm.streams.info(names.eventStream)).config.max_age).toBe(0);
      const days = loadSettings({ ACCOUNT_EVENTS_MAX_AGE_DAYS: '400' }).ACCOUNT_EVENTS_MAX_AGE_DAYS;
      const kept = await ensureAccountTopology(nc, names, 10_000, days * 24 * 60 * 60 * 1000);
      expect((await kept.jsm.streams.info(names.eventStream)).config.max_age).toBe(nanos(400 * 24 * 60 * 60 * 1000));
      // Commands and recon alerts keep their own limits.
      expect((await kept.jsm.streams.info(names.commandStream)).config.max_age).toBe(0);
    } finally {
      await removeTopology(nc, names);
      await nc.close();
    }
  });
});
