import net from 'node:net';
import { freePort } from '../../src/embedded/nats-server-process.js';

/** A TCP proxy to a real server that a test can cut (every connection dropped, new ones refused) and restore. */
export interface TcpProxy {
  port: number;
  /** Drops every open connection and stops listening: connects get ECONNREFUSED. */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  /**
   * Arms a one-time loss: the first server→client chunk holding `marker` is not forwarded, and
   * that connection is dropped (both sides) instead, as a connection lost while the server wrote
   * to it. The proxy keeps listening, so the client reconnects at once. Resolves once it dropped.
   */
  dropConnectionOnServerBytes(marker: string): Promise<void>;
  /**
   * Holds every client→server byte (all connections) until `release()`, which forwards them in
   * order: a client's writes, subscriptions included, reach the server late, as on a slow link.
   */
  holdClientBytes(): { release(): void };
  close(): Promise<void>;
}

interface ArmedDrop {
  marker: string;
  dropped(): void;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  let armed: ArmedDrop | null = null;
  /** While holding: each connection's client→server chunks, forwarded at release. */
  let holding: Array<() => void> | null = null;
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    const forward = (chunk: Uint8Array): void => {
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    };
    client.on('data', (chunk: Uint8Array) => {
      if (holding) holding.push(() => forward(chunk));
      else forward(chunk);
    });
    client.on('end', () => upstream.end());
    // The marker may straddle two chunks: match on the previous chunk's tail as well.
    let tail = '';
    upstream.on('data', (chunk: Uint8Array) => {
      const drop = armed;
      const text = Buffer.from(chunk).toString('latin1');
      if (drop && (tail + text).includes(drop.marker)) {
        armed = null;
        client.destroy();
        upstream.destroy();
        drop.dropped();
        return;
      }
      tail = text.slice(-256);
      if (!client.write(chunk)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
    });
    upstream.on('end', () => client.end());
  });
  const listen = (): Promise<void> => new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const stopListening = (): Promise<void> => new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    for (const socket of sockets) socket.destroy();
  });
  const dropConnectionOnServerBytes = (marker: string): Promise<void> => new Promise((resolve) => {
    armed = { marker, dropped: resolve };
  });
  const holdClientBytes = (): { release(): void } => {
    holding ??= [];
    return {
      release() {
        const held = holding ?? [];
        holding = null;
        for (const send of held) send();
      },
    };
  };
  await listen();
  return { port, cut: stopListening, restore: listen, dropConnectionOnServerBytes, holdClientBytes, close: stopListening };
}
