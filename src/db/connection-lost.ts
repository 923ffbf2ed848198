/**
 * SQLSTATEs of a connection the server ended under a statement: pg_terminate_backend
 * (admin_shutdown), a backend crash, and the connection-exception class 08.
 */
const endedByServer = new Set(['57P01', '57P02']);

/** The statement failed because its connection went away, not because of what it asked: a fresh connection may do it. */
export function isConnectionLost(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (endedByServer.has(code) || code.startsWith('08'))) return true;
  // pg's own errors for a socket that closed, or a client used after its connection failed.
  const message = (error as { message?: unknown }).message;
  return typeof message === 'string' && (message.startsWith('Connection terminated') || message.includes('not queryable'));
}
