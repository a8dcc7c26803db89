// Prometheus metrics, one registry per application instance (tests build several apps in one process).
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly logins = new Counter({
    name: 'broker_logins_total',
    help: 'Completed login flows by organisation and outcome',
    labelNames: ['org', 'outcome'],
    registers: [this.registry],
  });
  readonly stageSeconds = new Histogram({
    name: 'broker_stage_duration_seconds',
    help: 'Server time per broker hop (route) of the login flow',
    labelNames: ['stage'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly totpFailures = new Counter({
    name: 'broker_totp_failures_total',
    help: 'Rejected second-factor codes by organisation and reason',
    labelNames: ['org', 'code'],
    registers: [this.registry],
  });
  readonly upstreamErrors = new Counter({
    name: 'broker_upstream_errors_total',
    help: 'Rejected upstream SAML responses by organisation and error code',
    labelNames: ['org', 'code'],
    registers: [this.registry],
  });
  readonly linkRefusals = new Counter({
    name: 'broker_link_refusals_total',
    help: "First logins refused by the IdP's identity-linking rules, by organisation and reason",
    labelNames: ['org', 'reason'],
    registers: [this.registry],
  });
  readonly importJobs = new Counter({
    name: 'broker_import_jobs_total',
    help: 'User import jobs by outcome',
    labelNames: ['org', 'outcome'],
    registers: [this.registry],
  });

  /** The text /metrics serves: this registry, or (in a cluster worker, see server.ts) the sum over all workers. */
  exposition: () => Promise<string> = () => this.registry.metrics();

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
