// What a test connection (start.ts) keeps on its flow (FlowData.test): who started it and what the IdP answered.
import type { Profile } from '../upstream/profile.ts';
import type { Diagnosis } from './diagnosis.ts';

export interface TestConnectionSuccess {
  nameId: string;
  nameIdFormat: string | null;
  sessionIndex: string | null;
  attributes: Record<string, string[]>;
  profile: Profile;
  responseSigned: boolean;
  assertionSigned: boolean;
  /** Entra ID's groups overage reference came instead of the groups: where it points, and how many groups were
   *  read from Microsoft Graph instead (older stored results have no count) */
  groupsOverage?: { source: string | null; groups?: number };
}

export interface TestConnectionResult {
  outcome: 'success' | 'failure';
  /** ISO time the IdP's answer arrived */
  at: string;
  success?: TestConnectionSuccess;
  failure?: Diagnosis;
}

export interface TestConnection {
  /** the admin session (its stored id) that started the test */
  adminSessionId: string;
  actor: string;
  result?: TestConnectionResult;
}
