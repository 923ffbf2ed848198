import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { canConnect } from '../../src/embedded/nats-server-process.js';
import { resolveServices } from '../../src/embedded/services.js';
import { silentLogger } from '../support/log.js';

const log = silentLogger();

function portOf(url: string): number {
  return Number(new URL(url).port);
}

describe('resolveServices', () => {
  it('uses given URLs as they are and starts nothing', async () => {
    // Nothing listens on port 1: proof that resolveServices does not even connect.
    const given = { natsUrl: 'nats://127.0.0.1:1', databaseUrl: 'postgres://someone:secret@127.0.0.1:1/db' };
    const services = await resolveServices({ ...given, log });
    expect(services).toMatchObject({ ...given, embedded: { nats: false, postgres: false } });
    await services.stop();
  });

  it('starts both when none is given, and stop() stops both', async () => {
    const services = await resolveServices({ log });
    try {
      expect(services.embedded).toEqual({ nats: true, postgres: true });

      const nc = await connect({ servers: services.natsUrl, reconnect: false });
      await nc.flush();
      await nc.close();

      const client = new pg.Client({ connectionString: services.databaseUrl });
      await client.connect();
      const { rows } = await client.query<{ one: number }>('select 1 as one');
      await client.end();
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await services.stop();
    }
    expect(await canConnect(portOf(services.natsUrl))).toBe(false);
    expect(await canConnect(portOf(services.databaseUrl))).toBe(false);
  });
});
