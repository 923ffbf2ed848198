import { jetstream } from '@nats-io/jetstream';
import pg from 'pg';
import { inject } from 'vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../../src/observability/http-server.js';
import { metricsText } from '../../src/observability/metrics.js';
import { silentLogger } from '../support/log.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { until } from '../support/until.js';

let t: TestEngine;
let http: HttpServer;

/** One sample's value from Prometheus text, by its exact name and labels. */
function sample(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : null;
}

beforeAll(async () => {
  t = await startTestEngine({ RECON_GRACE_MS: '200' });
  const observed = t.engine.observability;
  http = await startHttpServer({ host: '127.0.0.1', port: 0 }, { health: () => observed.health(), metrics: () => metricsText(observed.metrics) }, silentLogger());
});
afterAll(async () => {
  await http?.close();
  await t?.close();
});

describe('GET /metrics', () => {
  it('counts commands, transitions by edge and latency; reports actors, consumer lag, parked messages, open breaks and reconciler lag', async () => {
    await t.admin('account.create', { userId: 'alice' });
    await t.admin('account.transition', { userId: 'alice', target: 'kyc_approved', reasonCode: 'kyc_pass', authority: 'system', actorId: 'kyc' });
    await t.admin('account.transition', { userId: 'alice', target: 'closed', reasonCode: 'nope', authority: 'system', actorId: 'kyc' });
    await jetstream(t.client).publish(t.names.meBalanceSubject('bob'), JSON.stringify({ seq: 1, userId: 'bob', currency: 'BTC', total: '1', locked: '0', available: '1', ts: new Date().toISOString() }));
    await until('a live break', async () => ((await t.admin('recon.breaks', {})) as { breaks: unknown[] }).breaks.length > 0);

    const response = await fetch(`${http.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(sample(text, 'recon_commands_processed_total{kind="create",outcome="accepted"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'recon_commands_processed_total{kind="transition",outcome="FORBIDDEN_TRANSITION"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'recon_transitions_total{from="new",to="pending_kyc"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'recon_transitions_total{from="pending_kyc",to="kyc_approved"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'recon_command_latency_seconds_count{kind="transition"}')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'recon_actors_live')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'recon_actors_passivated')).toBe(0);
    expect(sample(text, `recon_consumer_pending_messages{stream="${t.names.commandStream}",consumer="${t.names.commandConsumer(0)}"}`)).toBe(0);
    expect(sample(text, `recon_consumer_pending_messages{stream="${t.names.meBalanceStream}",consumer="${t.names.meDbConsumer}"}`)).toBe(0);
    expect(sample(text, 'recon_parked_messages')).toBe(0);
    expect(text).toMatch(/^recon_breaks_open\{boundary="me_db",kind="[a-z_]+"\} 1$/m);
    expect(sample(text, 'recon_reconciler_lag_seconds{boundary="me_db"}')).toBeGreaterThanOrEqual(0);
    expect(text).toMatch(/^# HELP recon_eod_step_duration_seconds /m);
    // Every metric of ours is prefixed.
    const names = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
    expect(names.filter((n) => !n.startsWith('recon_'))).toEqual([]);
  });
});

describe('GET /metrics: consumer lag', () => {
  it('reports every partition this instance consumes from its intakes, asking the server nothing about them (ADR 0037)', async () => {
    const infoRequests: string[] = [];
    const watch = t.client.subscribe(`$JS.API.CONSUMER.INFO.${t.names.commandStream}.>`, { callback: (_e, msg) => void infoRequests.push(msg.subject) });
    await t.client.flush();
    for (let scrape = 0; scrape < 3; scrape++) {
      const text = await (await fetch(`${http.url}/metrics`)).text();
      for (let p = 0; p < t.settings.COMMAND_PARTITIONS; p++) {
        expect(sample(text, `recon_consumer_pending_messages{stream="${t.names.commandStream}",consumer="${t.names.commandConsumer(p)}"}`)).toBe(0);
      }
    }
    await t.client.flush();
    watch.unsubscribe();
    expect(infoRequests).toEqual([]);
  });
});

describe('GET /health', () => {
  it('is 200 with each dependency\'s state', async () => {
    const response = await fetch(`${http.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 'ok',
      down: [],
      dependencies: {
        nats: { state: 'up' },
        postgres: { state: 'up' },
        me_db: { state: 'up' },
        db_custody: { state: 'disabled', detail: expect.stringMatching(/BITGO_ROOT_URI/) },
        db_chain: { state: 'disabled', detail: expect.stringMatching(/ETH_RPC_URL/) },
      },
    });
  });

  it('turns 503 naming postgres when the engine\'s connections are cut and cannot come back, and 200 when they can', async () => {
    const database = new URL(t.databaseUrl).pathname.slice(1);
    const admin = new pg.Client({ connectionString: inject('databaseUrl') });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
      const down = await until('health to be 503', async () => {
        const response = await fetch(`${http.url}/health`);
        if (response.status !== 503) return null;
        const body = (await response.json()) as { status: string; down: string[]; message: string; dependencies: Record<string, { state: string; detail?: string }> };
        // The first probe may hit a connection being terminated; wait for the pool's reconnection to be refused too.
        return /not currently accepting connections/.test(body.message) ? body : null;
      }, 15_000);
      expect(down.status).toBe('down');
      expect(down.down).toEqual(['postgres']);
      expect(down.message).toMatch(/^down: postgres \(.*not currently accepting connections.*\)$/);
      expect(down.dependencies.nats).toEqual({ state: 'up' });
    } finally {
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    await until('health to be 200 again', async () => (await fetch(`${http.url}/health`)).status === 200, 15_000);
  });

  it('answers 404 elsewhere', async () => {
    expect((await fetch(`${http.url}/nope`)).status).toBe(404);
  });
});
