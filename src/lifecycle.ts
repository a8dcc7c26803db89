// Graceful shutdown with a drain period. On SIGTERM/SIGINT the node first says it is going away (/readyz answers 503
// "draining", every response carries `Connection: close` so clients and load balancers stop reusing connections to
// it) while it keeps serving normally; after the drain period it stops listening, lets in-flight requests finish,
// closes idle connections and exits. The whole shutdown is bounded by SHUTDOWN_TIMEOUT_MS.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';

/** Shared by the health routes (readiness) and the shutdown sequence. */
export interface Lifecycle {
  /** set on SIGTERM/SIGINT: the node still serves but asks to be taken out of rotation */
  draining: boolean;
}

export function createLifecycle(): Lifecycle {
  return { draining: false };
}

/**
 * While draining, every response says `Connection: close`: Node closes the connection once the response is sent, so
 * a kept-alive connection is never reused by a client and then closed under its next request when the port closes.
 */
export function closeConnectionsWhileDraining(app: FastifyInstance, lifecycle: Lifecycle) {
  app.addHook('onRequest', async (_request, reply) => {
    if (lifecycle.draining) reply.header('connection', 'close');
  });
}

export interface ShutdownOptions {
  app: FastifyInstance;
  lifecycle: Lifecycle;
  log: FastifyBaseLogger;
  drainMs: number;
  /** stops background tasks, at once */
  stopTasks: () => void;
  /** closes the database and Redis after the last request */
  closeStore: () => Promise<void>;
}

/**
 * Installs the SIGTERM/SIGINT handlers. A second SIGINT during the drain period ends the drain at once (a
 * developer's second Ctrl-C); SHUTDOWN_TIMEOUT_MS (`timeoutMs`) bounds everything, drain included: past it the
 * process exits with status 1.
 */
export function shutdownOnSignals(opts: ShutdownOptions & { timeoutMs: number; exit?: (code: number) => void }) {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let started = false;
  let endDrain: (() => void) | null = null;
  let sawSigint = false;
  const onSignal = (signal: string) => {
    if (started) {
      // Only a second SIGINT: in a cluster started from a terminal a worker gets Ctrl-C's SIGINT and the primary's
      // SIGTERM, and under systemd (KillMode=control-group) SIGTERM from both; neither may cut the drain short.
      if (endDrain && signal === 'SIGINT' && sawSigint) {
        opts.log.info({ signal }, 'second signal: ending the drain period now');
        endDrain();
      }
      sawSigint ||= signal === 'SIGINT';
      return;
    }
    started = true;
    sawSigint ||= signal === 'SIGINT';
    const timer = setTimeout(() => {
      opts.log.error('shutdown timed out');
      exit(1);
    }, opts.timeoutMs);
    timer.unref();
    void drainAndClose(opts, signal, (end) => (endDrain = end)).then(
      () => exit(0),
      (err) => {
        opts.log.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
}

export async function drainAndClose(
  opts: ShutdownOptions,
  signal: string,
  onDrainStart: (end: (() => void) | null) => void = () => {},
) {
  const { app, lifecycle, log, drainMs } = opts;
  opts.stopTasks();
  lifecycle.draining = true;
  log.info(
    { signal, drainSeconds: drainMs / 1000 },
    `draining for ${drainMs / 1000} s: /readyz answers 503, requests are still served`,
  );
  if (drainMs > 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, drainMs);
      onDrainStart(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  onDrainStart(null);
  log.info('closing: no new connections; finishing in-flight requests');
  // Fastify stops listening, closes idle connections and waits for in-flight requests; a request that still arrives
  // on an open connection gets a 503 with `Connection: close` (return503OnClosing), never a reset.
  await app.close();
  await opts.closeStore();
}
