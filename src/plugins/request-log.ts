// Log context. Every log line of a request, the "request completed" line included, names the organisation whose host
// it came to and, on the login flow's routes, the stage (hop) and the flow: one login can be followed across nodes
// by its flow id (`grep flowId`), next to the request id each line already carries.
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { plausibleFlowId } from '../store/login-flows.ts';

/** The login flow's routes, each a stage of the flow as logs and the per-stage latency metric name it. */
export const FLOW_STAGES: ReadonlyMap<string, string> = new Map([
  ['/saml/idp/sso', 'sso'],
  ['/apps/:appId/launch', 'launch'],
  ['/flow/:id/idp', 'idp_choice'],
  ['/saml/sp/acs', 'acs'],
  ['/flow/:id/continue', 'continue'],
  ['/flow/:id/mfa', 'mfa'],
  ['/flow/:id/finish', 'finish'],
]);

/** Keys already bound to a request's logger. Pino appends bindings as JSON text, so binding a key twice would write
 *  it twice into every line (JSON readers then keep one of the two silently). */
const boundKeys = new WeakMap<object, Set<string>>();

/** Adds `fields` to every later log line of this request ("request completed" included). Fastify gives each request
 *  its own child logger (request.log, which is also reply.log): its bindings are extended in place, which costs a
 *  fraction of a further child logger (0.7 against 4.4 µs measured here). A key is bound once: the first value
 *  stays. So a log call must not repeat a bound key (`org`, `stage`, `flowId`) in its own object either. */
export function logWith(request: FastifyRequest, fields: Record<string, string>) {
  const log = request.log as { setBindings?: (bindings: Record<string, string>) => void };
  if (!log.setBindings) return; // absent only on the silent logger of `logger: false`
  let keys = boundKeys.get(log);
  if (!keys) boundKeys.set(log, (keys = new Set()));
  const fresh: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (keys.has(key)) continue;
    keys.add(key);
    fresh[key] = value;
  }
  if (Object.keys(fresh).length) log.setBindings(fresh);
}

/** Binds the request's organisation (once), e.g. for a line logged before the preHandler ran. */
export function logWithTenant(request: FastifyRequest) {
  if (request.tenant) logWith(request, { org: request.tenant.org.slug });
}

/** The flow a route names in its path (the routes that create or find a flow otherwise add it themselves). */
function namedFlow(request: FastifyRequest): string | undefined {
  const id = (request.params as { id?: unknown } | undefined)?.id;
  return plausibleFlowId(id) ? id : undefined;
}

export const requestLogPlugin = fp(async (app: FastifyInstance) => {
  app.addHook('preHandler', async (request) => {
    logWithTenant(request);
    const fields: Record<string, string> = {};
    const stage = request.routeOptions.url ? FLOW_STAGES.get(request.routeOptions.url) : undefined;
    if (stage) {
      fields.stage = stage;
      const flowId = namedFlow(request);
      if (flowId) fields.flowId = flowId;
    }
    if (Object.keys(fields).length) logWith(request, fields);
  });
});
