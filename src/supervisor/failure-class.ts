import { JetStreamApiError } from '@nats-io/jetstream';
import { errors as natsErrors } from '@nats-io/nats-core';

/**
 * What a failed attempt says about its cause (ADR 0028). A transient failure is a dependency
 * that is slow or away (NATS timing out, no responders, the connection closed or reconnecting;
 * Postgres refusing, dropping or shutting down connections): the same attempt succeeds once
 * the dependency is back, so it must not spend the restart budget or the message's attempts.
 * Anything else is a fault of the actor (a bug, an invariant, a conflict it cannot resolve).
 */
export type Dependency = 'nats' | 'postgres';

export type FailureClass = { kind: 'transient'; dependency: Dependency } | { kind: 'fault' };

const fault: FailureClass = { kind: 'fault' };

/** @nats-io errors that mean "NATS slow or away". */
const natsTransientClasses = [
  natsErrors.TimeoutError,
  natsErrors.NoRespondersError,
  natsErrors.ClosedConnectionError,
  natsErrors.ConnectionError,
  natsErrors.DrainingConnectionError,
];
/** By name: the class is not exported. A JetStream publish no one answered (its cause: no responders). */
const natsTransientNames = new Set(['JetStreamNotEnabled']);

/** JetStream API error codes for "temporarily unavailable" (the server says so itself). */
const jetStreamUnavailableCodes = new Set([10008]);

/** SQLSTATEs of a Postgres that is away or shutting down (class 08: connection exception). */
const postgresTransientStates = new Set(['57P01', '57P02', '57P03', '53300']);

/** Socket errors: the NATS client wraps its own, so a bare one comes from the Postgres driver. */
const socketErrorCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** node-postgres and pg-pool say a connection is gone in plain Errors, without a code. */
const postgresGoneMessages = [
  /^Connection terminated/,
  /timeout exceeded when trying to connect/,
  /Client has encountered a connection error and is not queryable/,
  /Client was closed and is not queryable/,
];

/** Classifies a thrown value by itself, its `cause` chain and (an AggregateError's) `errors`. */
export function classifyFailure(error: unknown): FailureClass {
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length > 0 && seen.size < 16) {
    const current = pending.shift();
    if (!(current instanceof Error) || seen.has(current)) continue;
    seen.add(current);
    const found = classifyOne(current);
    if (found) return found;
    if (current.cause !== undefined) pending.push(current.cause);
    if (current instanceof AggregateError) pending.push(...current.errors);
  }
  return fault;
}

function classifyOne(error: Error): FailureClass | null {
  if (natsTransientClasses.some((transient) => error instanceof transient) || natsTransientNames.has(error.name)) return { kind: 'transient', dependency: 'nats' };
  // The client rejects requests in flight when its connection drops (they are not retried).
  if (error instanceof natsErrors.RequestError && (error.isNoResponders() || error.message === 'connection disconnected')) return { kind: 'transient', dependency: 'nats' };
  if (error instanceof JetStreamApiError) {
    return error.status === 503 || jetStreamUnavailableCodes.has(error.code) ? { kind: 'transient', dependency: 'nats' } : null;
  }
  const code = (error as Error & { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || postgresTransientStates.has(code)) return { kind: 'transient', dependency: 'postgres' };
    if (socketErrorCodes.has(code)) return { kind: 'transient', dependency: 'postgres' };
  }
  if (postgresGoneMessages.some((pattern) => pattern.test(error.message))) return { kind: 'transient', dependency: 'postgres' };
  return null;
}
