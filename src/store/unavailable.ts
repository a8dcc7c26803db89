// One reading of "a dependency is unavailable": the errors by which PostgreSQL (through pg, or Prisma wrapping pg),
// SQLite and Redis (ioredis) say that they cannot be reached or did not answer in time, as opposed to a refusal of
// the statement itself (a constraint, bad input). The error handler (app.ts) answers them with 503
// service_unavailable and Retry-After instead of 500; /readyz (health/routes.ts) names the reason.
import { AppError } from '../errors.ts';

export type UnavailableReason = 'timeout' | 'unreachable';

/** Seconds a client is asked to wait before trying again (Retry-After). */
export const RETRY_AFTER_SECONDS = 5;

// Node's socket errors (error.code), and SQLite's busy database (its busy timeout ran out).
const SOCKET_TIMEOUT = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT', 'SQLITE_BUSY']);
const SOCKET_UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
]);

/** PostgreSQL SQLSTATEs: 57014 query_canceled (statement_timeout), 55P03 lock_not_available (lock_timeout). */
const PG_TIMEOUT = new Set(['57014', '55P03']);
/** Class 08 connection exceptions; 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting
 *  up, shutting down, in recovery); 53300 too_many_connections; 58000/58030 system and I/O errors. */
const PG_UNREACHABLE = /^(08...|57P0[123]|53300|5800[0-9]|58030)$/;

/** Prisma's own codes: P1001 can't reach the server, P1002 timed out, P1008 operation timed out, P1017 server closed
 *  the connection, P2024 timed out fetching a connection from the pool, P2028 a transaction could not start (or ran
 *  out of time) because every pooled connection stayed busy. */
const PRISMA_TIMEOUT = new Set(['P1002', 'P1008', 'P2024', 'P2028']);
const PRISMA_UNREACHABLE = new Set(['P1001', 'P1017']);
/** The kinds of Prisma's DriverAdapterError (meta.driverAdapterError.cause.kind) that mean the same. */
const ADAPTER_TIMEOUT = new Set(['SocketTimeout', 'TransactionTimeout']);
const ADAPTER_UNREACHABLE = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'TooManyConnections']);

/** Messages of errors that carry no code: pg's client-side timers and closed sockets, ioredis's command timeout and
 *  closed connection, SQLite's busy database. */
const MESSAGE_TIMEOUT =
  /^(Query read timeout|timeout expired|Connection terminated due to connection timeout|timeout exceeded when trying to connect|Command timed out|Connection timeout)$|^database is (locked|busy)|^SQLITE_BUSY/i;
const MESSAGE_UNREACHABLE =
  /^(Connection terminated( unexpectedly)?|Client has encountered a connection error and is not queryable|Client was closed and is not queryable|Cannot use a pool after calling end on the pool|Connection is closed\.?|None of the sentinels are available|All sentinels are unreachable|Reached the max retries per request limit.*)$|^Stream isn't writeable|^connect (ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH)/i;

function ownReason(e: Record<string, unknown>): UnavailableReason | null {
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message.trim() : '';
  const kind = typeof e.kind === 'string' ? e.kind : undefined;
  if (code && (SOCKET_TIMEOUT.has(code) || PG_TIMEOUT.has(code) || PRISMA_TIMEOUT.has(code))) return 'timeout';
  if (code && (SOCKET_UNREACHABLE.has(code) || PG_UNREACHABLE.test(code) || PRISMA_UNREACHABLE.has(code)))
    return 'unreachable';
  if (kind && ADAPTER_TIMEOUT.has(kind)) return 'timeout';
  if (kind && ADAPTER_UNREACHABLE.has(kind)) return 'unreachable';
  if (kind === 'postgres' && typeof e.originalCode === 'string') return ownReason({ code: e.originalCode });
  if (MESSAGE_TIMEOUT.test(message)) return 'timeout';
  if (MESSAGE_UNREACHABLE.test(message)) return 'unreachable';
  return null;
}

/** Why `err` says a dependency is unavailable, or null when it says something else. Looks through what wraps the
 *  driver's error: `cause` (pg's connection timeout wraps the socket's end), Prisma's
 *  meta.driverAdapterError.cause (the adapter's reading of pg's error: kind, originalCode), AggregateError's errors. */
export function unavailableReason(err: unknown): UnavailableReason | null {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  let found: UnavailableReason | null = null;
  while (queue.length) {
    const e = queue.shift();
    if (!e || typeof e !== 'object' || seen.has(e) || seen.size > 20) continue;
    seen.add(e);
    if (e instanceof AppError) return null; // a refusal of ours, never a dependency's failure
    const rec = e as Record<string, unknown>;
    const reason = ownReason(rec);
    if (reason === 'timeout') return reason; // the more precise reading wins: a timeout often ends in a closed socket
    found ??= reason;
    const meta = rec.meta as Record<string, unknown> | undefined;
    queue.push(
      rec.cause,
      meta?.driverAdapterError as Record<string, unknown> | undefined,
      ...(Array.isArray(rec.errors) ? rec.errors : []),
    );
  }
  return found;
}

export const isUnavailable = (err: unknown): boolean => unavailableReason(err) !== null;

/** The answer to a request that failed because a dependency is unavailable: 503, to be tried again shortly. */
export function serviceUnavailable(): AppError {
  return new AppError('service_unavailable', 'The service is temporarily unavailable. Please try again in a moment.');
}

/** A one-line account of a driver's error, for a person reading a log or a start-up message: the driver's own words
 *  where Prisma wrapped them (its message is several lines long and names our call site). */
export function describeDriverError(err: unknown): string {
  const e = err as
    | { message?: string; code?: string; meta?: { driverAdapterError?: { cause?: Record<string, unknown> } } }
    | undefined;
  const cause = e?.meta?.driverAdapterError?.cause;
  if (cause) {
    const words = cause.originalMessage ?? cause.message ?? cause.kind;
    const where = cause.host ? ` ${String(cause.host)}${cause.port ? `:${String(cause.port)}` : ''}` : '';
    return `${String(words)}${where}${cause.originalCode ? ` (${String(cause.originalCode)})` : ''}`;
  }
  const lines = String(e?.message ?? err)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines[lines.length - 1] ?? 'unknown error';
}
