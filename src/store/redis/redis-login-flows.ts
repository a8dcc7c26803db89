// Login flows in Redis (REDIS_URL): the same contract as the database's (login-flows.ts). A flow is a hash holding
// its stage, its version and the whole record as JSON; the key names the organisation, so one organisation's
// repository cannot reach another's flows. Creation and every move are compare-and-set scripts (redis-records.ts).
import {
  advanced,
  plausibleFlowId,
  type FlowPatch,
  type LoginFlow,
  type LoginFlowStore,
  type NewFlow,
} from '../login-flows.ts';
import type { RedisRecords } from './redis-records.ts';

type Stored = Omit<LoginFlow, 'expiresAt' | 'createdAt' | 'updatedAt'> & {
  expiresAt: number;
  createdAt: number;
  updatedAt: number;
};

const toRecord = (flow: LoginFlow<unknown>): string =>
  JSON.stringify({
    ...flow,
    expiresAt: flow.expiresAt.getTime(),
    createdAt: flow.createdAt.getTime(),
    updatedAt: flow.updatedAt.getTime(),
  });

function fromRecord<D>(text: string): LoginFlow<D> {
  const stored = JSON.parse(text) as Stored;
  return {
    ...stored,
    data: stored.data as D,
    expiresAt: new Date(stored.expiresAt),
    createdAt: new Date(stored.createdAt),
    updatedAt: new Date(stored.updatedAt),
  };
}

export class RedisLoginFlowRepository implements LoginFlowStore {
  constructor(
    private readonly redis: RedisRecords,
    private readonly orgId: string,
  ) {}

  async create<D>(flow: NewFlow<D>): Promise<LoginFlow<D>> {
    const now = new Date();
    const created: LoginFlow<D> = {
      id: flow.id,
      orgId: this.orgId,
      stage: flow.stage,
      appId: flow.appId ?? null,
      idpId: flow.idpId ?? null,
      userId: flow.userId ?? null,
      sessionId: flow.sessionId ?? null,
      data: flow.data,
      version: 0,
      expiresAt: flow.expiresAt,
      createdAt: now,
      updatedAt: now,
    };
    const stored = await this.redis.client.flowCreate(
      this.redis.key('flow', this.orgId, flow.id),
      flow.stage,
      toRecord(created),
      this.redis.ttlMs(flow.expiresAt),
    );
    if (stored !== 1) throw new Error(`a login flow with id ${flow.id} already exists`);
    return created;
  }

  async findAtStage<D>(id: string, stages: readonly string[], now: Date): Promise<LoginFlow<D> | null> {
    if (!plausibleFlowId(id) || stages.length === 0) return null;
    const text = await this.redis.client.hget(this.redis.key('flow', this.orgId, id), 'flow');
    if (!text) return null;
    const flow = fromRecord<D>(text);
    return flow.orgId === this.orgId && stages.includes(flow.stage) && flow.expiresAt.getTime() > now.getTime()
      ? flow
      : null;
  }

  async advance<D>(flow: LoginFlow<D>, stage: string, patch: FlowPatch<D>): Promise<LoginFlow<D> | null> {
    if (flow.orgId !== this.orgId) return null;
    const moved = advanced(flow, stage, patch, new Date());
    const changed = await this.redis.client.flowAdvance(
      this.redis.key('flow', this.orgId, flow.id),
      flow.stage,
      String(flow.version),
      stage,
      String(moved.version),
      toRecord(moved),
    );
    return changed === 1 ? moved : null;
  }
}
