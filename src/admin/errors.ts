/** The error codes of the admin contract (docs/contract.md §2). */
export const adminErrorCodes = ['INVALID_REQUEST', 'NOT_FOUND', 'FORBIDDEN_TRANSITION', 'CONFLICT', 'UNAUTHORIZED', 'INTERNAL'] as const;
export type AdminErrorCode = (typeof adminErrorCodes)[number];

/** An expected failure of an admin request: becomes `{"error": {code, message}}`. */
export class AdminError extends Error {
  constructor(
    readonly code: AdminErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Micro-protocol status codes (Nats-Service-Error-Code), so $SRV.STATS counts errors by kind. */
export const serviceStatusOf: Record<AdminErrorCode, number> = {
  INVALID_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN_TRANSITION: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  INTERNAL: 500,
};
