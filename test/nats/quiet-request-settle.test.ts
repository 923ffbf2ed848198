import { createRequire } from 'node:module';
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { errors, RequestError, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installQuietRequestSettle } from '../../src/nats/quiet-request-settle.js';
import { classifyFailure } from '../../src/supervisor/failure-class.js';
import { sharedNatsUrl, testNamespace } from '../support/nats.js';

/**
 * The errors module @nats-io/nats-core's request code reads `RequestError` from at each call: swapping
 * in a counting subclass counts every RequestError the client builds, without changing what it does.
 */
const require = createRequire(import.meta.url);
const natsErrorsModule = require(path.join(path.dirname(require.resolve('@nats-io/nats-core')), 'errors.js')) as { RequestError: typeof errors.RequestError };

async function countRequestErrors(work: () => Promise<unknown>): Promise<number> {
  const original = natsErrorsModule.RequestError;
  let built = 0;
  natsErrorsModule.RequestError = class CountedRequestError extends original {
    constructor(...args: ConstructorParameters<typeof original>) {
      super(...args);
      built++;
    }
  };
  try {
    await work();
  } finally {
    natsErrorsModule.RequestError = original;
  }
  return built;
}

let nc: NatsConnection;
const stream = testNamespace();

beforeAll(async () => {
  nc = await connect({ servers: sharedNatsUrl(), noAsyncTraces: true });
  await (await jetstreamManager(nc)).streams.add({ name: stream, subjects: [`${stream}.>`] });
});

afterAll(async () => {
  await (await jetstreamManager(nc)).streams.delete(stream).catch(() => undefined);
  await nc.close();
});

describe('quiet request settle (ADR 0032)', () => {
  it('answered requests build no error once installed (the stock 3.4.0 code builds one each); answers, no responders and timeouts reach the caller as before', async () => {
    const js = jetstream(nc);
    const publishTen = async (): Promise<void> => {
      for (let i = 0; i < 10; i++) expect((await js.publish(`${stream}.x`, `m${i}`)).stream).toBe(stream);
    };
    // The counter sees the stock code's wasted error (so this test can fail).
    expect(await countRequestErrors(publishTen)).toBeGreaterThanOrEqual(10);

    expect(installQuietRequestSettle()).toBe(true);
    expect(installQuietRequestSettle()).toBe(true);
    expect(await countRequestErrors(publishTen)).toBe(0);
    await expect((await jetstreamManager(nc)).streams.info(stream).then((info) => info.state.messages)).resolves.toBe(20);

    // No responders: the same error as before, still a transient NATS failure to the supervisor.
    const noResponders = await nc.request(`${stream}-nobody.here`, 'x', { timeout: 2_000 }).catch((error: unknown) => error);
    expect(noResponders).toBeInstanceOf(errors.RequestError);
    expect((noResponders as RequestError).isNoResponders()).toBe(true);
    expect(classifyFailure(noResponders)).toEqual({ kind: 'transient', dependency: 'nats' });

    // A responder that never answers: the request times out with a TimeoutError.
    const silent = nc.subscribe(`${stream}-silent.here`, { callback: () => undefined });
    await nc.flush();
    const timedOut = await nc.request(`${stream}-silent.here`, 'x', { timeout: 200 }).catch((error: unknown) => error);
    expect(timedOut).toBeInstanceOf(errors.TimeoutError);
    silent.unsubscribe();

    // A request answered after a failed one: the reply table has no leftovers to misroute it.
    const echo = nc.subscribe(`${stream}-echo.here`, { callback: (_error, msg) => void msg.respond(msg.data) });
    await nc.flush();
    expect((await nc.request(`${stream}-echo.here`, 'hello', { timeout: 2_000 })).string()).toBe('hello');
    echo.unsubscribe();
  });
});
