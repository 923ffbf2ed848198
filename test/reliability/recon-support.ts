import type { JetStreamClient } from '@nats-io/jetstream';
import type { Pool } from '../../src/db/pool.js';
import type { NatsNames } from '../../src/nats/names.js';
import type { BreakAlert } from '../../src/recon/breaks/break.js';
import { streamMessages } from '../support/stream-messages.js';

/** Every alert and resolution on the RECON_EVENTS stream. */
export async function reconEvents(js: JetStreamClient, names: NatsNames): Promise<{ alerts: BreakAlert[]; resolved: BreakAlert[] }> {
  const messages = await streamMessages(js, names.reconStream);
  return {
    alerts: messages.filter((m) => m.subject.includes('recon.alert.')).map((m) => m.json<BreakAlert>()),
    resolved: messages.filter((m) => m.subject.includes('recon.resolved.')).map((m) => m.json<BreakAlert>()),
  };
}

export interface BreakRow {
  id: string;
  kind: string;
  user_id: string | null;
  currency: string | null;
  status: string;
  resolved: boolean;
}

export async function breakRows(pool: Pool): Promise<BreakRow[]> {
  return (await pool.query<BreakRow>("SELECT id, kind, user_id, currency, status, resolved_at IS NOT NULL AS resolved FROM recon_breaks WHERE boundary = 'me_db' ORDER BY first_seen_at")).rows;
}

/**
 * recon_breaks, the outbox and the stream agree: every break has its alert on the stream
 * once (and its resolution once if resolved), every outbox row is done, and the stream holds
 * nothing the table does not. Returns the disagreements (empty when they agree).
 */
export async function disagreements(pool: Pool, js: JetStreamClient, names: NatsNames): Promise<string[]> {
  const problems: string[] = [];
  const rows = await breakRows(pool);
  const { alerts, resolved } = await reconEvents(js, names);
  const ids = new Set(rows.map((r) => r.id));
  for (const row of rows) {
    const paged = alerts.filter((a) => a.breakId === row.id).length;
    if (paged !== 1) problems.push(`break ${row.id} (${row.kind} ${row.user_id ?? ''}) paged ${paged} times`);
    const cleared = resolved.filter((a) => a.breakId === row.id).length;
    if (cleared !== (row.resolved ? 1 : 0)) problems.push(`break ${row.id} resolution published ${cleared} times (resolved: ${row.resolved})`);
  }
  for (const alert of [...alerts, ...resolved]) if (alert.boundary === 'me_db' && !ids.has(alert.breakId)) problems.push(`stream has ${alert.breakId}, the table does not`);
  const pendingEffects = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM recon_outbox WHERE done_at IS NULL');
  if (pendingEffects.rows[0]!.n !== 0) problems.push(`${pendingEffects.rows[0]!.n} outbox rows not done`);
  const alertRows = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM recon_outbox WHERE boundary = 'me_db' AND msg_id LIKE 'alert:%'");
  if (alertRows.rows[0]!.n !== rows.length) problems.push(`${alertRows.rows[0]!.n} alert rows in the outbox for ${rows.length} breaks`);
  return problems;
}
