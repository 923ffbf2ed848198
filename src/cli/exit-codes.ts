/**
 * The CLI's exit codes (docs/contract.md, ADR 0017). Bad input is 2 wherever it is caught —
 * by the CLI before sending, or by the engine (`INVALID_REQUEST`) — so a script's branch does
 * not depend on which side validated first.
 */
export const exitCodes = {
  ok: 0,
  /** A verification ran and found a difference (audit verify, report verify, proof verify), like `sha256sum -c`. */
  verificationFailed: 1,
  /** Bad usage or bad input: an unknown command or option, a malformed argument, `INVALID_REQUEST`. */
  badInput: 2,
  /** The engine (or the NATS server's permissions) answered with an error: NOT_FOUND, CONFLICT, FORBIDDEN_TRANSITION, UNAUTHORIZED, INTERNAL. */
  engineError: 3,
  /** No engine or NATS reachable: connection refused, login refused, no responders, timed out. */
  unreachable: 4,
} as const;

export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

/** An expected CLI failure: printed as one line (or one JSON document with --json), then the exit code. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    /** The admin error code, or USAGE / UNREACHABLE for failures that never reached the engine. */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const usageError = (message: string): CliError => new CliError(exitCodes.badInput, 'USAGE', message);
