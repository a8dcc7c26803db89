// Stored login flows. A flow is read only together with the stage the caller expects, and it moves forward only
// by a compare-and-set on (stage, version): a replayed form, a back button or a second node racing on the same
// flow finds the stage already moved and is refused.
import type { Db } from './database.ts';
import { parseJson, toJson } from './json.ts';

type Row = Awaited<ReturnType<Db['loginFlow']['findUniqueOrThrow']>>;
export interface LoginFlow<D = Record<string, unknown>> extends Omit<Row, 'data'> { data: D }

const fromRow = <D>(row: Row): LoginFlow<D> => ({ ...row, data: parseJson<D>(row.data, {} as D) });

export class LoginFlowRepository {
  constructor(private readonly db: Db, private readonly orgId: string) {}

  async create<D>(flow: { id: string; stage: string; appId?: string | null; idpId?: string | null; data: D; expiresAt: Date }) {
    return fromRow<D>(await this.db.loginFlow.create({ data: { ...flow, data: toJson(flow.data), orgId: this.orgId } }));
  }

  /** The flow if it belongs to this organisation, is in one of `stages` and has not expired; otherwise null. */
  async findAtStage<D>(id: string, stages: readonly string[], now: Date): Promise<LoginFlow<D> | null> {
    if (typeof id !== 'string' || id.length > 64) return null;
    const row = await this.db.loginFlow.findFirst({ where: { id, orgId: this.orgId, stage: { in: [...stages] }, expiresAt: { gt: now } } });
    return row && fromRow<D>(row);
  }

  /** Moves the flow from its current stage/version to `stage`; false if someone else moved it first. */
  async advance<D>(flow: LoginFlow<D>, stage: string, patch: { data?: D; idpId?: string | null; userId?: string | null; sessionId?: string | null; appId?: string | null }): Promise<boolean> {
    const { data, ...columns } = patch;
    const result = await this.db.loginFlow.updateMany({
      where: { id: flow.id, orgId: this.orgId, stage: flow.stage, version: flow.version },
      data: { ...columns, stage, version: { increment: 1 }, ...(data !== undefined && { data: toJson(data) }) },
    });
    return result.count === 1;
  }
}

export async function purgeExpiredFlows(db: Db, now: Date) {
  return (await db.loginFlow.deleteMany({ where: { expiresAt: { lt: now } } })).count;
}
