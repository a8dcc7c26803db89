// Stored login flows. A flow is read only together with the stage the caller expects, and it moves forward only
// by a compare-and-set on (stage, version): a replayed form, a back button or a second node racing on the same
// flow finds the stage already moved and is refused. Every statement here runs on each login: hand-written SQL
// (sql.ts).
import type { Db } from './engine/database.ts';
import { parseJson, toJson } from './engine/json.ts';
import { rowReader, sql, type SqlRunner } from './engine/sql.ts';

type Row = Awaited<ReturnType<Db['loginFlow']['findUniqueOrThrow']>>;
export interface LoginFlow<D = Record<string, unknown>> extends Omit<Row, 'data'> {
  data: D;
}

const COLUMNS =
  '"id", "orgId", "stage", "appId", "idpId", "userId", "sessionId", "data", "version", "expiresAt", "createdAt", "updatedAt"';
const readRow = rowReader<Row>({ dates: ['expiresAt', 'createdAt', 'updatedAt'], ints: ['version'] });
const fromRow = <D>(row: Row): LoginFlow<D> => ({ ...row, data: parseJson<D>(row.data, {} as D) });

const INSERT = sql(`INSERT INTO "LoginFlow" (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`);
// One statement per number of stages asked for (callers ask for one or two): a plain IN list costs SQLite less than
// unpacking a bound JSON array, and the planner sees the primary key lookup either way.
const findAtStageStatements = new Map<number, ReturnType<typeof sql>>();
function findAtStage(stages: number) {
  let statement = findAtStageStatements.get(stages);
  if (!statement) {
    statement = sql(
      `SELECT ${COLUMNS} FROM "LoginFlow" WHERE "id" = ? AND "orgId" = ? AND "expiresAt" > ? AND "stage" IN (${Array(stages).fill('?').join(', ')})`,
    );
    findAtStageStatements.set(stages, statement);
  }
  return statement;
}

const SETTABLE = ['idpId', 'userId', 'sessionId', 'appId'] as const;
export type FlowPatch<D> = { data?: D } & Partial<Record<(typeof SETTABLE)[number], string | null>>;
export interface NewFlow<D> {
  id: string;
  stage: string;
  appId?: string | null;
  idpId?: string | null;
  userId?: string | null;
  sessionId?: string | null;
  data: D;
  expiresAt: Date;
}

/** Where login flows live: the database (this file), or Redis when REDIS_URL is set (redis/redis-login-flows.ts). */
export interface LoginFlowStore {
  create<D>(flow: NewFlow<D>): Promise<LoginFlow<D>>;
  /** The flow if it belongs to this organisation, is in one of `stages` and has not expired; otherwise null. */
  findAtStage<D>(id: string, stages: readonly string[], now: Date): Promise<LoginFlow<D> | null>;
  /** Moves the flow from its current stage/version to `stage` and returns it as it now is (no read needed: the
   *  compare-and-set proves what the record holds); null if someone else moved it first. */
  advance<D>(flow: LoginFlow<D>, stage: string, patch: FlowPatch<D>): Promise<LoginFlow<D> | null>;
}

/** Flow ids are ours (random, short); anything else is not looked up. */
export const plausibleFlowId = (id: unknown): id is string => typeof id === 'string' && id.length <= 64;

/** The flow as `advance` leaves it, given that its compare-and-set succeeded. */
export function advanced<D>(flow: LoginFlow<D>, stage: string, patch: FlowPatch<D>, updatedAt: Date): LoginFlow<D> {
  const { data, ...set } = patch;
  return { ...flow, ...set, stage, version: flow.version + 1, updatedAt, ...(data !== undefined && { data }) };
}
// One statement per combination of columns an advance sets, built on first use.
const advanceStatements = new Map<string, ReturnType<typeof sql>>();
function advanceStatement(columns: string[]) {
  const key = columns.join(',');
  let statement = advanceStatements.get(key);
  if (!statement) {
    const sets = ['"stage" = ?', '"version" = "version" + 1', '"updatedAt" = ?', ...columns.map((c) => `"${c}" = ?`)];
    statement = sql(
      `UPDATE "LoginFlow" SET ${sets.join(', ')} WHERE "id" = ? AND "orgId" = ? AND "stage" = ? AND "version" = ?`,
    );
    advanceStatements.set(key, statement);
  }
  return statement;
}

export class LoginFlowRepository implements LoginFlowStore {
  constructor(
    private readonly db: Db,
    private readonly sql: SqlRunner,
    private readonly orgId: string,
  ) {}

  async create<D>(flow: NewFlow<D>): Promise<LoginFlow<D>> {
    const now = new Date();
    const row: Row = {
      id: flow.id,
      orgId: this.orgId,
      stage: flow.stage,
      appId: flow.appId ?? null,
      idpId: flow.idpId ?? null,
      userId: flow.userId ?? null,
      sessionId: flow.sessionId ?? null,
      data: toJson(flow.data),
      version: 0,
      expiresAt: flow.expiresAt,
      createdAt: now,
      updatedAt: now,
    };
    await this.sql.run(INSERT, [
      row.id,
      row.orgId,
      row.stage,
      row.appId,
      row.idpId,
      row.userId,
      row.sessionId,
      row.data,
      row.expiresAt,
      now,
      now,
    ]);
    return fromRow<D>(row);
  }

  async findAtStage<D>(id: string, stages: readonly string[], now: Date): Promise<LoginFlow<D> | null> {
    if (!plausibleFlowId(id) || stages.length === 0) return null;
    const [row] = await this.sql.all(findAtStage(stages.length), [id, this.orgId, now, ...stages]);
    return row ? fromRow<D>(readRow(row)) : null;
  }

  async advance<D>(flow: LoginFlow<D>, stage: string, patch: FlowPatch<D>): Promise<LoginFlow<D> | null> {
    const columns: string[] = SETTABLE.filter((c) => patch[c] !== undefined);
    const values: unknown[] = columns.map((c) => patch[c as (typeof SETTABLE)[number]]);
    if (patch.data !== undefined) {
      columns.push('data');
      values.push(toJson(patch.data));
    }
    const updatedAt = new Date();
    const changed = await this.sql.run(advanceStatement(columns), [
      stage,
      updatedAt,
      ...values,
      flow.id,
      this.orgId,
      flow.stage,
      flow.version,
    ]);
    return changed === 1 ? advanced(flow, stage, patch, updatedAt) : null;
  }
}

export async function purgeExpiredFlows(db: Db, now: Date) {
  return (await db.loginFlow.deleteMany({ where: { expiresAt: { lt: now } } })).count;
}
